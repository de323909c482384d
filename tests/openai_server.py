"""A loopback HTTP server speaking the OpenAI chat-completions API (/v1/models, /v1/chat/completions).

There is no OpenAI-compatible server on this machine, so the openai backend is tested at the
protocol boundary: the official client talks to this server, which answers with the real SmolLM2
model through llama.cpp (the JSON schema of ``response_format`` becomes its grammar). It shares the
fault queue of the Ollama stand-in ("slow:S", "500", "503", "badjson", "drop", "badcontent", "huge",
"superscript") and adds "429" (rate limited) and "401" (key refused).
"""
from __future__ import annotations

import json

from tests.ollama_server import FakeOllama, Handler

MODEL_NAME = "smollm2-135m-instruct"


class FakeOpenAI(FakeOllama):
    """Start with ``with FakeOpenAI() as server:``; ``server.host`` is the base URL (ending in /v1)."""

    def __init__(self, model_name: str = MODEL_NAME):
        super().__init__(model_name)
        self.host = f"{self.host}/v1"
        self.keys: list[str] = []

    def chat(self, body: dict) -> dict:
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        completion = self.complete(body["messages"], schema, body.get("temperature", 0.7), body.get("seed", 0),
                                   body.get("max_tokens", 128))
        return {"id": "chatcmpl-loopback", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": completion.text}}],
                "usage": {"prompt_tokens": completion.prompt_tokens, "completion_tokens": completion.completion_tokens,
                          "total_tokens": completion.prompt_tokens + completion.completion_tokens}}

    @staticmethod
    def set_content(reply: dict, text: str) -> None:
        reply["choices"][0]["message"]["content"] = text


class OpenAIHandler(Handler):
    """Routes OpenAI API requests to the FakeOpenAI that owns the server."""

    def do_GET(self) -> None:
        self.fake.requests.append(self.path)
        self.fake.keys.append(self.headers.get("Authorization", ""))
        if self.path == "/v1/models":
            self._send(200, {"object": "list", "data": [{"id": self.fake.model_name, "object": "model", "created": 0,
                                                          "owned_by": "loopback"}]})
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        self.fake.requests.append(self.path)
        self.fake.keys.append(self.headers.get("Authorization", ""))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
        if body.get("model") != self.fake.model_name:
            return self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist",
                                              "type": "invalid_request_error", "code": "model_not_found"}})
        fault = self.fake.faults.popleft() if self.fake.faults else ""
        if fault in ("429", "401"):
            return self._send(int(fault), {"error": {"message": "slow down" if fault == "429" else "bad key",
                                                     "type": "rate_limit" if fault == "429" else "auth"}})
        self._chat(body, fault)


FakeOpenAI.handler = OpenAIHandler
