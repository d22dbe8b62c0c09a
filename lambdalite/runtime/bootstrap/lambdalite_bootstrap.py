"""lambdalite's python runtime: imports the handler and serves invocations over the Lambda Runtime API.

Runs inside the function's own interpreter (python3.9 ... 3.14), so it uses only the standard library and
syntax every supported version accepts. Everything is imported once at start: the per-invocation path
is one keep-alive `GET next` and one `POST response`. Error objects and log lines follow awslambdaric.
"""

import importlib
import json
import logging
import os
import socket
import sys
import time

API_PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in "
    "rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed "
    "runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To "
    "determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this "
    "error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily "
    "rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


class FaultError(Exception):
    """An error the runtime reports with its own errorType (Runtime.*)."""

    def __init__(self, error_type, message, trace=None):
        Exception.__init__(self, message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


class Unbuffered:
    """stdout/stderr flushed on every write, so output reaches the log before the response does."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, name):
        return getattr(self.stream, name)

    def write(self, text):
        written = self.stream.write(text)
        self.stream.flush()
        return written

    def writelines(self, lines):
        self.stream.writelines(lines)
        self.stream.flush()


class Client:
    """The Runtime API over one keep-alive socket; any transport failure ends the process.

    A few lines of HTTP/1.1 instead of http.client, whose imports (email, ssl...) would dominate the
    cold start. lambdalite always answers with Content-Length.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = host
        self.buffer = b""
        try:
            self.sock = socket.create_connection((host, int(port)))
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            os._exit(0)

    def head(self, method, path, body=b"", extra_headers=""):
        return (f"{method} {API_PREFIX}{path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Content-Length: {len(body)}\r\n{extra_headers}\r\n").encode("latin-1")

    def request(self, method, path, body=b"", extra_headers=""):
        try:
            self.sock.sendall(self.head(method, path, body, extra_headers) + body)
            return self.read_response()
        except (OSError, ValueError):
            # The Runtime API is gone: lambdalite stopped. Never outlive it.
            os._exit(0)

    def read_response(self):
        buffer = self.buffer
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("connection closed")
            buffer += chunk
        lines = buffer[:end].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        buffer = buffer[end + 4:]
        while len(buffer) < length:
            chunk = self.sock.recv(max(65536, length - len(buffer)))
            if not chunk:
                raise OSError("connection closed")
            buffer += chunk
        self.buffer = buffer[length:]
        return status, headers, buffer[:length]

    def next(self):
        status, headers, body = self.request("GET", "/invocation/next")
        if status != 200:
            os._exit(1)
        return headers, body

    def post(self, path, payload, error_type=None):
        self.request("POST", path, payload, self._post_headers(error_type))

    def post_then_next(self, path, payload, error_type=None):
        """Send the result and ask for the next event in one write (HTTP/1.1 pipelining): one system
        call and one wake-up of the server instead of a round trip each."""
        try:
            self.sock.sendall(self.head("POST", path, payload, self._post_headers(error_type)) + payload
                              + self.head("GET", "/invocation/next"))
            self.read_response()  # the result's 202
            status, headers, body = self.read_response()
        except (OSError, ValueError):
            os._exit(0)
        if status != 200:
            os._exit(1)
        return headers, body

    @staticmethod
    def _post_headers(error_type):
        extra = "Content-Type: application/json\r\n"
        if error_type:
            extra += ERROR_TYPE_HEADER + ": " + error_type.replace("\r", "").replace("\n", "") + "\r\n"
        return extra


class TraceIdVariable:
    """Keeps `_X_AMZN_TRACE_ID` set to the current invocation's trace header without leaking memory.

    `os.environ[name] = value` calls setenv(), and glibc never frees a value it replaces (a caller may still
    hold it): a new trace id per invocation grew a warm process by ~160 B each time until a function near
    its MemorySize was OOM-killed. So Python readers (botocore reads `os.environ.get`) see os.environ's
    mapping updated directly, without setenv; C readers and child processes see one buffer handed to
    putenv(), which keeps the pointer itself, rewritten in place. The buffer is replaced by one twice as
    large only when a longer value arrives, so memory stays bounded by the longest trace header seen.
    """

    NAME = "_X_AMZN_TRACE_ID"

    def __init__(self):
        self._key = os.fsencode(self.NAME)  # os.environ's own encoding of keys and values on POSIX
        self._prefix = self._key + b"="
        self._buffers = []  # every buffer given to putenv stays alive: C code may hold a pointer into one
        self._ctypes = None
        try:
            import ctypes

            self._putenv = ctypes.CDLL(None).putenv
            self._ctypes = ctypes
        except (ImportError, OSError, AttributeError):  # Python readers are served all the same
            pass

    def set(self, value):
        data = os.environ._data  # type: ignore[attr-defined]  # what os.environ.get reads; no setenv()
        if value:
            encoded = os.fsencode(value)
            data[self._key] = encoded
        else:
            data.pop(self._key, None)
            encoded = b""
        ctypes = self._ctypes
        if ctypes is not None and (encoded or self._buffers):
            self._set_c(ctypes, self._prefix + encoded + b"\0")

    def _set_c(self, ctypes, entry):
        if not self._buffers or len(entry) > len(self._buffers[-1]):
            size = max(256, len(entry), 2 * len(self._buffers[-1]) if self._buffers else 0)
            self._buffers.append(ctypes.create_string_buffer(size))
        buffer = self._buffers[-1]
        ctypes.memmove(buffer, entry, len(entry))
        # Every time, in case the function's own code replaced the variable: putenv() of an existing name
        # only swaps the pointer in `environ` (it allocates nothing that it keeps).
        self._putenv(buffer)


class Context:
    """The `context` argument, as the AWS python runtime builds it."""

    def __init__(self, request_id, deadline_ms, invoked_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining_ms = self._deadline_ms - int(time.time() * 1000)
        return remaining_ms if remaining_ms > 0 else 0

    def log(self, message):
        sys.stdout.write(str(message))


class Namespace:
    """Attribute access over a dict (client_context.client.app_title, identity.cognito_identity_id)."""

    def __init__(self, data):
        self.__dict__.update(data)

    def __repr__(self):
        return f"{type(self).__name__}({self.__dict__!r})"


def client_context_from(text):
    if not text:
        return None
    data = json.loads(text)
    fields = {"client": None, "custom": None, "env": None}
    fields.update(data)
    if isinstance(fields["client"], dict):
        fields["client"] = Namespace(fields["client"])
    return Namespace(fields)


def identity_from(text):
    data = json.loads(text) if text else {}
    return Namespace({
        "cognito_identity_id": data.get("cognitoIdentityId"),
        "cognito_identity_pool_id": data.get("cognitoIdentityPoolId"),
    })


class RequestIdFilter(logging.Filter):
    """Adds the current request id to every record, as the AWS runtime's log format expects."""

    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging():
    """The root logger writes `[LEVEL]\tTIME\tREQUEST_ID\tMESSAGE` lines to stdout, as on AWS."""
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.terminator = ""
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(RequestIdFilter())
    logging.getLogger().addHandler(handler)


def make_error(message, error_type, trace, request_id=""):
    return {"errorMessage": message or "", "errorType": error_type or "", "requestId": request_id or "",
            "stackTrace": trace or []}


def user_frames(tb):
    import traceback  # only on errors: keeps it off the cold start

    frames = traceback.extract_tb(tb)
    for index, frame in enumerate(frames):
        if not frame.filename.endswith("lambdalite_bootstrap.py"):
            return traceback.format_list(frames[index:])
    return []


def log_error(error):
    lines = ["[ERROR] {}: {}".format(error["errorType"], error["errorMessage"]), "Traceback (most recent call last):"]
    for element in error["stackTrace"]:
        for line in element.splitlines():
            stripped = line.lstrip(" ")
            lines.append("\u00a0" * (len(line) - len(stripped)) + stripped)
    sys.stdout.write("\r".join(lines) + "\n")


def load_handler(handler):
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}") from None
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultError("Runtime.BuiltInModuleConflict",
                             f"Cannot use built-in module {module_name} as a handler module")
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{module_name}': {e}") from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{module_name}': {e}", trace) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultError("Runtime.HandlerNotFound",
                         f"Handler '{function_name}' missing on module '{module_name}'") from None


def encode_result(result):
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except Exception as e:  # noqa: BLE001 - reported to the caller as AWS does
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {e}") from None


def handle(client, handler, headers, body, trace_variable):
    """Run one invocation, report it, and return the next one's (headers, body)."""
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    RequestIdFilter.request_id = request_id
    trace_variable.set(headers.get("lambda-runtime-trace-id"))
    try:
        try:
            client_context = client_context_from(headers.get("lambda-runtime-client-context"))
            identity = identity_from(headers.get("lambda-runtime-cognito-identity"))
        except ValueError as e:
            raise FaultError("Runtime.LambdaContextUnmarshalError", f"Unable to parse Client Context JSON: {e}") from None
        try:
            event = json.loads(body) if body else {}
        except ValueError as e:
            raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}") from None
        context = Context(request_id, int(headers.get("lambda-runtime-deadline-ms", "0")),
                          headers.get("lambda-runtime-invoked-function-arn"), client_context, identity)
        payload = encode_result(handler(event, context))
    except FaultError as e:
        error = make_error(e.message, e.error_type, e.trace, request_id)
    except Exception as e:  # noqa: BLE001 - the function's error goes back to the caller
        error = make_error(str(e), type(e).__name__, user_frames(sys.exc_info()[2]), request_id)
    else:
        return client.post_then_next("/invocation/" + request_id + "/response", payload)
    log_error(error)
    return client.post_then_next("/invocation/" + request_id + "/error", json.dumps(error).encode(),
                                 error["errorType"])


def site_builtins():
    """lambdalite runs this with -S (no site-packages of the host's interpreter); exit(), quit() and
    help() still exist, as they do on AWS."""
    if sys.flags.no_site:
        import site

        site.setquit()
        site.setcopyright()
        site.sethelper()


def main():
    site_builtins()
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path[0] = task_root
    setup_logging()
    client = Client(os.environ["AWS_LAMBDA_RUNTIME_API"])
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultError as e:
        error = make_error(e.message, e.error_type, e.trace)
    except Exception as e:  # noqa: BLE001 - any init failure is reported as AWS does
        error = make_error(str(e), type(e).__name__, user_frames(sys.exc_info()[2]))
    else:
        error = None
    if error is not None:
        logging.warning(UNHANDLED_WARNING)
        log_error(error)
        client.post("/init/error", json.dumps(error).encode(), error["errorType"])
        sys.exit(1)
    trace_variable = TraceIdVariable()
    headers, body = client.next()
    while True:
        headers, body = handle(client, handler, headers, body, trace_variable)


if __name__ == "__main__":
    main()
