# moto's server for the local world (spawned by moto-pool.ts): exits by itself when the process that
# started it is gone (a jest run killed before its teardown must not leave servers behind), and
# drops work moto repeats on every request or reset without changing any answer
# (docs/test-speed.md measures it):
# - the list of moto's own modules, read from disk (one listdir and ~150 stats) twice per request;
# - the method names of a response class (inspect.getmembers), looked up on every request;
# - AWS managed IAM policies (MOTO_IAM_LOAD_MANAGED_POLICIES), parsed from a 3 MB JSON text and
#   made into ~1,500 policy objects for each of an account's 6 partitions after every reset, because
#   every request looks its access key up in all of them. The text is parsed once per process, and
#   partitions other than `aws` (China, GovCloud, ISO), which the local world never uses, get none;
# - most of Python's cycle collections: moto's answers allocate many short-lived objects (a young
#   collection every 700 allocations by default), and the full ones walked moto's whole import graph,
#   which is frozen below (never collected, never walked);
# - the candidate attribute names of each field of an answer (pick_attributes_by_remembered_names);
# - a botocore loader per service model, each listing botocore's service folders again;
# - ~1,200 AMIs loaded into every EC2 backend (only the one image the local world launches);
# - a TCP connection and a server thread per request (keep_connections_alive below).
import functools
import gc
import os
import sys
import threading
import time

parent = os.getppid()


def watch():
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


threading.Thread(target=watch, daemon=True).start()

# Every EC2 backend (one per account and Region, made anew after each reset) loads moto's ~1,200
# "latest" AMIs of its Region, with a random snapshot and volume id each: 0.25 s of CPU a time. The
# local world launches instances from one image (the tests' RunInstances), so moto loads only that.
os.environ.setdefault("MOTO_AMIS_PATH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "moto-amis.json"))

import moto.backends


def skip_repeated_work():
    import moto.core.responses
    import moto.core.utils
    from moto.iam import models as iam_models

    modules = list(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: iter(modules)

    # Each service model moto loads made a new botocore loader, which lists botocore's ~400 service folders again.
    moto.core.utils.create_loader = functools.lru_cache(maxsize=1)(moto.core.utils.create_loader)

    moto.core.responses.method_names_from_class = functools.lru_cache(maxsize=None)(moto.core.utils.method_names_from_class)

    @functools.lru_cache(maxsize=1)
    def managed_policy_data():
        return iam_models.json.loads(iam_models.aws_managed_policies_data)

    def init_aws_policies(self):
        if not iam_models.load_iam_aws_managed_policies() or self.partition != "aws":
            return []
        return [iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, d) for name, d in managed_policy_data().items()]

    # Only replace what exists as expected: another moto version runs unpatched, only slower.
    for owner, name in ((moto.core.utils, "create_loader"), (moto.core.utils, "method_names_from_class"), (iam_models.IAMBackend, "_init_aws_policies"), (iam_models, "aws_managed_policies_data"), (iam_models.AWSManagedPolicy, "from_data")):
        if not hasattr(owner, name):
            raise AttributeError(name)
    iam_models.IAMBackend._init_aws_policies = init_aws_policies


def pick_attributes_by_remembered_names():
    """
    moto's response serializer finds each field of an answer on its Python object by trying a list of
    candidate attribute names (the model's name, its snake_case form, aliases from the class's Meta,
    the shape's and the class's name prefixes). Making that list took a quarter of moto's CPU in a
    workflow file (85,000 fields for 2,000 answers). It depends only on the picker's kind and alias
    providers, the object's class and Meta, the field's shape (botocore keeps one per member, its
    parent set by the serializer) and its name, so it is made once per combination and remembered.
    """
    from moto.core import serialize
    from moto.core.utils import MISSING, get_value

    original = serialize.ResponseSerializer.get_value
    names = {}

    def get_value_by_remembered_names(self, value, key, shape):
        picker = self._value_picker
        if type(picker) not in (serialize.AttributePicker, serialize.XFormedAttributePicker) or picker.alias_providers is not serialize.DEFAULT_ALIAS_PROVIDERS:
            return original(self, value, key, shape)
        remembered = (type(picker), type(value), getattr(value, "Meta", None), shape, key)
        candidates = names.get(remembered)
        if candidates is None:
            if len(names) > 100_000:
                names.clear()
            context = serialize.AttributePickerContext(obj=value, key=key, shape=shape, operation_model=self.operation_model, service_model=self.operation_model.service_model, key_path=".".join(self.path))
            candidates = names[remembered] = tuple(picker.get_possible_keys(context))
        for candidate in candidates:
            found = get_value(value, candidate, MISSING)
            if found is not MISSING:
                break
        else:
            found = None
        if picker.response_transformers:
            key_path = ".".join(self.path) + "." + key
            for transform_path, transform in picker.response_transformers.items():
                if key_path.endswith(transform_path):
                    return transform(found)
        return found

    if not all(hasattr(serialize.AttributePicker(), name) for name in ("response_transformers", "alias_providers")) or not hasattr(serialize, "DEFAULT_ALIAS_PROVIDERS"):
        raise AttributeError("serialize.AttributePicker")
    serialize.ResponseSerializer.get_value = get_value_by_remembered_names


try:
    skip_repeated_work()
except (AttributeError, ImportError) as missing:
    print(f"moto-server.py: moto lacks {missing}; running it unpatched (slower)", file=sys.stderr)

try:
    pick_attributes_by_remembered_names()
except (AttributeError, ImportError) as missing:
    print(f"moto-server.py: moto's serializer lacks {missing}; it finds every field the slow way", file=sys.stderr)

# A crowd connects faster than the server thread accepts: a longer listen queue than werkzeug's 128
# keeps connections from being dropped into TCP's SYN retransmission (seconds of idle waiting).
import werkzeug.serving

werkzeug.serving.BaseWSGIServer.request_queue_size = 4096


def keep_connections_alive():
    """
    werkzeug's development server closes every connection after one answer, so each AWS call of the
    local world paid a TCP connection and a new server thread (the recording proxy keeps up to 32
    connections to moto, and AWS's endpoints keep theirs). It closes because it cannot tell where an
    unread request body ends: after each answer it discards whatever the socket still holds, which
    on a kept connection would be the next request. Here each request's body (Content-Length) is
    read whole before moto sees it, so nothing of it is ever left on the socket, and that discard
    goes. A chunked body, one awaiting "100 Continue", or a client asking to close still closes.
    """
    import io
    import types
    from werkzeug.serving import WSGIRequestHandler

    make_environ = WSGIRequestHandler.make_environ
    send_header = WSGIRequestHandler.send_header

    def make_environ_with_body(self):
        environ = make_environ(self)
        # werkzeug reads these itself (de-chunked; after its "100 Continue"): closed after the answer, as before.
        if environ.get("wsgi.input_terminated") or environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.close_connection = True
            return environ
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"] = io.BytesIO(self.rfile.read(length) if length > 0 else b"")
        return environ

    def send_header_keeping(self, keyword, value):
        if keyword.lower() == "connection" and value.lower() == "close" and not self.close_connection:
            return
        send_header(self, keyword, value)

    class NothingLeft:
        def register(self, *args):
            pass

        def select(self, timeout=None):
            return []

        def close(self):
            pass

    if not hasattr(werkzeug.serving, "selectors"):
        raise AttributeError("werkzeug.serving.selectors")
    # Headers and body leave in separate writes: on a kept connection Nagle's algorithm held the body
    # back until the client's delayed ACK (~40 ms per call); a closing connection flushed it at once.
    WSGIRequestHandler.disable_nagle_algorithm = True
    WSGIRequestHandler.make_environ = make_environ_with_body
    WSGIRequestHandler.send_header = send_header_keeping
    werkzeug.serving.selectors = types.SimpleNamespace(DefaultSelector=NothingLeft, EVENT_READ=werkzeug.serving.selectors.EVENT_READ)


try:
    keep_connections_alive()
except AttributeError as missing:
    print(f"moto-server.py: werkzeug lacks {missing}; every connection closes after one answer (slower)", file=sys.stderr)



def count_action_cpu(path):
    """MOTO_ACTION_CPU=<file>: the CPU each action took (thread time), written there every 2 s."""
    import json
    import re
    import moto.server

    totals = {}
    lock = threading.Lock()
    app_call = moto.server.DomainDispatcherApplication.__call__

    def timed(self, environ, start_response):
        scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        action = environ.get("HTTP_X_AMZ_TARGET", "")
        if not action:
            body = environ["wsgi.input"].getvalue() if hasattr(environ["wsgi.input"], "getvalue") else b""
            found = re.search(rb"Action=([A-Za-z0-9]+)", body)
            action = found.group(1).decode() if found else environ.get("PATH_INFO", "")
        elif action.endswith(("Scan", "Query")):
            table = re.search(rb'"TableName": ?"([^"]+)"', environ["wsgi.input"].getvalue())
            action += f" {table.group(1).decode() if table else '?'}"
        key = f"{scope.group(1) if scope else '?'} {action}"
        started = time.thread_time()
        try:
            return app_call(self, environ, start_response)
        finally:
            spent = time.thread_time() - started
            with lock:
                count, total = totals.get(key, (0, 0.0))
                totals[key] = (count + 1, total + spent)

    def dump():
        while True:
            time.sleep(2)
            with lock:
                snapshot = dict(totals)
            with open(path, "w") as out:
                json.dump(snapshot, out)

    moto.server.DomainDispatcherApplication.__call__ = timed
    threading.Thread(target=dump, daemon=True).start()


if os.environ.get("MOTO_ACTION_CPU"):
    count_action_cpu(os.environ["MOTO_ACTION_CPU"] + f".{os.getpid()}")

from moto.server import main

gc.freeze()
gc.set_threshold(100_000, 50, 100)
main(sys.argv[1:])
