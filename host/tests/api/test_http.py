"""HTTP-level checks: error statuses and shapes, SSE framing, Unicode, disconnects."""

import http.client
import json
import socket
import threading
import time


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    connection.request(method, path, body=payload, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def assert_openai_error(data, status, response):
    assert response.status == status, (response.status, data)
    error = json.loads(data)["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str)
    assert "code" in error


def test_error_statuses(server):
    response, data = request(server, "POST", "/v1/chat/completions", b"{not json")
    assert_openai_error(data, 400, response)
    response, data = request(server, "GET", "/v1/nothing")
    assert_openai_error(data, 404, response)
    response, data = request(server, "GET", "/v1/chat/completions")
    assert_openai_error(data, 405, response)
    response, data = request(server, "POST", "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "hi"}], "n": 2})
    assert_openai_error(data, 400, response)
    assert "n" in json.loads(data)["error"]["message"]


def test_body_over_the_limit_is_413(make_server):
    running = make_server(["--max-body-size", "1000"])
    response, data = request(running, "POST", "/v1/completions", {"prompt": "x" * 2000})
    assert_openai_error(data, 413, response)


def test_regression_a_body_between_one_mib_and_the_limit_is_answered(server):
    # The server used to stop reading at 1 MiB, so such a request never got an answer.
    body = b'{"prompt": "' + b"a" * (3 << 20) + b'", oops}'
    response, data = request(server, "POST", "/v1/completions", body)
    assert_openai_error(data, 400, response)


def test_missing_api_key_is_401(make_server):
    running = make_server(["--api-key", "abc"])
    response, data = request(running, "GET", "/v1/models")
    assert_openai_error(data, 401, response)
    response, _ = request(running, "GET", "/v1/models", headers={"Authorization": "Bearer abc"})
    assert response.status == 200


def test_prompt_over_the_context_is_400_with_counts_and_the_server_keeps_serving(make_server):
    running = make_server(["--ctx-size", "128"])
    response, data = request(running, "POST", "/v1/completions", {"prompt": "hello " * 400, "max_tokens": 4})
    assert_openai_error(data, 400, response)
    message = json.loads(data)["error"]["message"]
    assert "n_prompt_tokens" in message and "n_ctx = 128" in message, message
    response, _ = request(running, "GET", "/health")
    assert response.status == 200
    response, _ = request(running, "POST", "/v1/completions", {"prompt": "hello", "max_tokens": 2})
    assert response.status == 200


def test_health_is_503_while_the_model_loads_then_200(make_server):
    # Poll from the moment the process starts: the guest listens before it loads the model,
    # and nnedge loads it on a thread of its own, so the server answers meanwhile.
    running = make_server(wait=False)
    answers = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and running.alive():
        try:
            response, data = request(running, "GET", "/health")
        except OSError:
            time.sleep(0.002)
            continue
        answers.append((response.status, response.getheader("Retry-After"), json.loads(data)))
        if response.status == 200:
            break
    assert answers and answers[-1][0] == 200, (answers[-3:], "".join(running.stderr))
    loading = answers[:-1]
    assert loading, "no 503 was seen before the model had loaded"
    assert all(answer == (503, "1", {"status": "loading"}) for answer in loading), loading[:3]


def test_timings_account_for_part_of_the_latency(server):
    started = time.monotonic()
    response, data = request(server, "POST", "/v1/chat/completions",
                             {"messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 16})
    latency_ms = (time.monotonic() - started) * 1000
    assert response.status == 200
    body = json.loads(data)
    timings = body["timings"]
    assert timings["prompt_n"] == body["usage"]["prompt_tokens"]
    assert timings["predicted_n"] == body["usage"]["completion_tokens"]
    assert timings["prompt_ms"] > 0 and timings["predicted_ms"] > 0
    assert timings["prompt_ms"] + timings["predicted_ms"] < latency_ms


def test_health_and_metrics(server):
    response, data = request(server, "GET", "/health")
    assert response.status == 200
    response, data = request(server, "GET", "/metrics")
    text = data.decode()
    for name in ("nnedge_requests_total", "nnedge_prompt_tokens_total", "nnedge_generated_tokens_total",
                 "nnedge_tokens_per_second", "nnedge_active_slots", "nnedge_queue_length"):
        assert name in text


def sse_events(server, body):
    response, data = request(server, "POST", "/v1/chat/completions", {**body, "stream": True})
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    text = data.decode("utf-8")
    assert text.endswith("data: [DONE]\n\n")
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    return [json.loads(e[6:]) for e in events[:-1]]


def test_sse_framing(server):
    chunks = sse_events(server, {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8})
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_unicode_survives_streaming(server):
    body = {"messages": [{"role": "user", "content": "Repeat exactly: 東京は日本の首都です 😀🎉"}],
            "max_tokens": 48, "temperature": 0}
    chunks = sse_events(server, body)
    pieces = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    assert all("\ufffd" not in p for p in pieces[:-1]), pieces
    response, data = request(server, "POST", "/v1/chat/completions", body)
    assert json.loads(data)["choices"][0]["message"]["content"] == "".join(pieces)


def test_a_disconnect_mid_stream_does_not_disturb_the_others(server):
    body = json.dumps({"messages": [{"role": "user", "content": "Tell a long story."}],
                       "max_tokens": 400, "stream": True}).encode()
    raw = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    quitter = socket.create_connection(("127.0.0.1", server.port))
    quitter.sendall(raw)
    result = {}

    def other():
        result["chunks"] = sse_events(server, {"messages": [{"role": "user", "content": "Capital of France?"}],
                                               "max_tokens": 16, "temperature": 0})

    thread = threading.Thread(target=other)
    thread.start()
    assert quitter.recv(4096).startswith(b"HTTP/1.1 200")
    quitter.close()
    thread.join(timeout=120)
    assert result["chunks"][-1]["choices"][0]["finish_reason"] in ("stop", "length")
    time.sleep(0.5)
    metrics = request(server, "GET", "/metrics")[1].decode()
    assert "nnedge_active_slots 0" in metrics, "the abandoned stream freed its slot"
