variable "zip_path" { type = string }
variable "name" { type = string }
variable "layer_zip_path" { type = string }

resource "aws_lambda_layer_version" "lib" {
  layer_name          = "${var.name}-lib"
  filename            = var.layer_zip_path
  source_code_hash    = filebase64sha256(var.layer_zip_path)
  compatible_runtimes = ["python3.11"]
  description         = "a package for the stack's function"
}

resource "aws_cloudwatch_log_group" "fn" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = 7
}

resource "aws_sqs_queue" "success" { name = "${var.name}-success" }
resource "aws_sqs_queue" "failure" { name = "${var.name}-failure" }
resource "aws_sqs_queue" "dlq" { name = "${var.name}-dlq" }
resource "aws_sqs_queue" "events" { name = "${var.name}-events" }
resource "aws_sqs_queue" "inbox" {
  name                       = "${var.name}-inbox"
  visibility_timeout_seconds = 30
}

resource "aws_lambda_function" "fn" {
  function_name    = var.name
  role             = "arn:aws:iam::000000000000:role/lambda"
  runtime          = "python3.11"
  handler          = "handler.handler"
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  timeout          = 5
  publish          = true
  layers           = [aws_lambda_layer_version.lib.arn]
  depends_on       = [aws_cloudwatch_log_group.fn]
  dead_letter_config { target_arn = aws_sqs_queue.dlq.arn }
  environment { variables = { MODE = "terraform" } }
  tags = { team = "lambdalite" }
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.fn.function_name
  function_version = aws_lambda_function.fn.version
}

resource "aws_lambda_function_event_invoke_config" "cfg" {
  function_name                = aws_lambda_function.fn.function_name
  qualifier                    = aws_lambda_alias.live.name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 600
  destination_config {
    on_success { destination = aws_sqs_queue.success.arn }
    on_failure { destination = aws_sqs_queue.failure.arn }
  }
}

resource "aws_cloudwatch_event_bus" "bus" {
  name = "${var.name}-bus"
  tags = { team = "lambdalite" }
}

resource "aws_cloudwatch_event_rule" "rule" {
  name           = "${var.name}-rule"
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  event_pattern  = jsonencode({ source = ["lambdalite.terraform"] })
  tags           = { team = "lambdalite" }
}

resource "aws_cloudwatch_event_target" "to_function" {
  rule           = aws_cloudwatch_event_rule.rule.name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "function"
  arn            = aws_lambda_alias.live.arn
}

resource "aws_cloudwatch_event_target" "to_queue" {
  rule           = aws_cloudwatch_event_rule.rule.name
  event_bus_name = aws_cloudwatch_event_bus.bus.name
  target_id      = "queue"
  arn            = aws_sqs_queue.events.arn
}

resource "aws_lambda_permission" "from_rule" {
  statement_id  = "AllowEventBridge"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.fn.function_name
  qualifier     = aws_lambda_alias.live.name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.rule.arn
}

resource "aws_lambda_event_source_mapping" "inbox" {
  event_source_arn                   = aws_sqs_queue.inbox.arn
  function_name                      = aws_lambda_alias.live.arn
  batch_size                         = 5
  maximum_batching_window_in_seconds = 1
}

output "function_name" { value = aws_lambda_function.fn.function_name }
output "version" { value = aws_lambda_function.fn.version }
output "alias_arn" { value = aws_lambda_alias.live.arn }
output "success_url" { value = aws_sqs_queue.success.url }
output "events_url" { value = aws_sqs_queue.events.url }
output "inbox_url" { value = aws_sqs_queue.inbox.url }
output "mapping_uuid" { value = aws_lambda_event_source_mapping.inbox.uuid }
output "bus_name" { value = aws_cloudwatch_event_bus.bus.name }
