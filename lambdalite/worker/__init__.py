"""The dispatcher: lease -> check age & concurrency -> run -> decide -> ack/retry -> deliver."""
