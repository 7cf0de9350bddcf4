"""The official `openai` Python client against the server (issue #4, tests)."""

import concurrent.futures
import math

import openai
import pytest

SEED_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant. Reply in short sentence"},
    {"role": "user", "content": "What is the capital of Japan?"},
]


def client(url, api_key="none"):
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=120)


def test_seed_request_returns_a_well_formed_chat_completion(server):
    reply = client(server.url).chat.completions.create(model="default", messages=SEED_MESSAGES, max_tokens=48)
    assert reply.object == "chat.completion"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content.strip()
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 10
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_chat_streaming_concatenates_to_the_answer(server):
    stream = client(server.url).chat.completions.create(
        model="default", messages=SEED_MESSAGES, max_tokens=32, stream=True,
        stream_options={"include_usage": True}, temperature=0, seed=1,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish and finish[-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens >= 1

    plain = client(server.url).chat.completions.create(
        model="default", messages=SEED_MESSAGES, max_tokens=32, temperature=0, seed=1,
    )
    assert plain.choices[0].message.content == text, "streamed and plain greedy answers agree"


def test_max_tokens_5_gives_length(server):
    reply = client(server.url).chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Write a long story about a dragon."}],
        max_tokens=5, temperature=0,
    )
    assert reply.usage.completion_tokens <= 5
    assert reply.choices[0].finish_reason == "length"


def test_equal_seeds_give_equal_output(server):
    def ask():
        return client(server.url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Name a color."}],
            max_tokens=16, temperature=0.9, seed=1234,
        ).choices[0].message.content
    assert ask() == ask()


def test_stop_cuts_the_output(server):
    def ask(stop=None):
        return client(server.url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
            max_tokens=40, temperature=0, stop=stop,
        ).choices[0]
    full = ask().message.content
    assert "," in full, full
    cut = ask(stop=[","])
    assert cut.message.content == full.split(",")[0]
    assert cut.finish_reason == "stop"


def test_completions_string_and_array(server):
    api = client(server.url)
    single = api.completions.create(model="default", prompt="The capital of France is", max_tokens=8, temperature=0)
    assert single.object == "text_completion" and single.choices[0].text
    several = api.completions.create(model="default", prompt=["One, two,", "Red, green,"], max_tokens=4, temperature=0)
    assert [c.index for c in several.choices] == [0, 1]
    streamed = "".join(
        c.choices[0].text for c in api.completions.create(
            model="default", prompt="The capital of France is", max_tokens=8, temperature=0, stream=True)
        if c.choices
    )
    assert streamed == single.choices[0].text


def test_models_list(server):
    models = client(server.url).models.list()
    assert [m.id for m in models.data] == ["SmolLM2-135M-Instruct.Q4_1"]


def test_json_object_response_format(server):
    import json
    reply = client(server.url).chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Give me a JSON object with a key city."}],
        max_tokens=64, temperature=0, response_format={"type": "json_object"},
    )
    if reply.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_four_concurrent_streams_each_get_their_own_answer(server):
    questions = {
        "France": "What is the capital of France?",
        "Japan": "What is the capital of Japan?",
        "Italy": "What is the capital of Italy?",
        "Germany": "What is the capital of Germany?",
    }

    def ask(question):
        stream = client(server.url).chat.completions.create(
            model="default", messages=[{"role": "user", "content": question}],
            max_tokens=24, temperature=0, stream=True,
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = dict(zip(questions, pool.map(ask, questions.values())))
    alone = {country: ask(question) for country, question in questions.items()}
    assert answers == alone, "concurrent greedy answers equal the answers alone (no cross-talk)"


def test_embeddings(embedding_server):
    api = client(embedding_server.url)
    reply = api.embeddings.create(model="all-MiniLM-L6-v2-Q8_0", input=["hello world", "goodbye"])
    assert len(reply.data) == 2
    vector = reply.data[0].embedding
    assert len(vector) == 384
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, rel_tol=1e-3)
    floats = api.embeddings.create(model="all-MiniLM-L6-v2-Q8_0", input="hello world", encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(vector, rel=1e-5)


def test_wrong_api_key_is_rejected(make_server):
    running = make_server(["--api-key", "test-key-123"])
    with pytest.raises(openai.AuthenticationError):
        client(running.url, api_key="wrong").models.list()
    assert client(running.url, api_key="test-key-123").models.list().data
    assert "test-key-123" not in "".join(running.stderr)
