"""A loopback HTTP server speaking Ollama's API (/api/chat, /api/tags, /api/show, /api/version).

There is no Ollama server on this machine, so the ollama backend is tested at the protocol
boundary: the official client talks to this server, which answers with the real SmolLM2 model
through llama.cpp. Faults can be queued: "slow:SECONDS", "500", "503", "badjson" (a body that is
not JSON), "badcontent" (a reply that is not the requested JSON), "drop" (close without answer),
"huge" (a 1 MB reply of '{"a":' repeated), "superscript" (a valid-looking action whose value is "²"),
"die" (the server stops for good: no answer now, connections refused and kept-alive ones closed after).
"""
from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agents.llm import ChatRequest, GenerationOptions, action_schema
from agents.llm.llama_cpp import LlamaCppBackend
from agents.llm.llama_loading import DEFAULT_MODEL
from envs import DOMAINS, EKMAN_7

MODEL_NAME = "smollm2:135m"
# The request the backend tests send through both loopback servers.
SCHEMA = action_schema(DOMAINS["credit"], EKMAN_7, 60)
MESSAGES = ({"role": "system", "content": "You are a creditor. Reply in JSON."},
            {"role": "user", "content": "The debtor offers 90 days. Your move."})


def action_request(seed: int = 1) -> ChatRequest:
    return ChatRequest(MESSAGES, SCHEMA, GenerationOptions(seed=seed, max_tokens=128))


class FakeOllama:
    """Start with ``with FakeOllama() as server:``; ``server.host`` is the URL, ``server.faults`` a queue."""

    def __init__(self, model_name: str = MODEL_NAME):
        self.model_name = model_name
        self.faults: collections.deque[str] = collections.deque()
        self.requests: list[str] = []
        self.dead = False
        self.backend = LlamaCppBackend(DEFAULT_MODEL)
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        self.httpd.daemon_threads = True
        self.httpd.fake = self
        self.host = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "FakeOllama":
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def die(self) -> None:
        """Stop answering at once and stop listening (from a handler thread: shutdown waits for the loop)."""
        self.dead = True
        threading.Thread(target=self.stop, daemon=True).start()

    @property
    def chats(self) -> int:
        """Chat requests received (answered or not)."""
        return sum(path.endswith(("/api/chat", "/chat/completions")) for path in self.requests)

    def complete(self, messages: list, schema: dict | None, temperature: float, seed: int, max_tokens: int):
        """The real model's answer (one request at a time)."""
        request = ChatRequest(tuple(messages), schema, GenerationOptions(temperature=temperature, seed=seed,
                                                                         max_tokens=max_tokens))
        with self.lock:
            return self.backend.complete(request)

    def chat(self, body: dict) -> dict:
        options = body.get("options") or {}
        fmt = body.get("format")
        completion = self.complete(body["messages"], fmt if isinstance(fmt, dict) else None,
                                   options.get("temperature", 0.7), options.get("seed", 0), options.get("num_predict", 128))
        return {"model": body["model"], "created_at": "2026-11-23T00:00:00Z",
                "message": {"role": "assistant", "content": completion.text}, "done": True, "done_reason": "stop",
                "prompt_eval_count": completion.prompt_tokens, "eval_count": completion.completion_tokens}

    @staticmethod
    def set_content(reply: dict, text: str) -> None:
        reply["message"]["content"] = text

    def model_entry(self) -> dict:
        return {"name": self.model_name, "model": self.model_name, "modified_at": "2026-11-23T00:00:00Z",
                "size": 98362432, "digest": "sha256:" + "0" * 64,
                "details": {"format": "gguf", "family": "llama", "parameter_size": "135M", "quantization_level": "Q4_1"}}


class Handler(BaseHTTPRequestHandler):
    """Routes Ollama API requests to the FakeOllama that owns the server."""

    def log_message(self, *args) -> None:
        pass

    def handle_one_request(self) -> None:
        if self.fake.dead:  # a dead server answers nothing, even on a kept-alive connection
            self.close_connection = True
            return
        super().handle_one_request()

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake

    def _send(self, status: int, payload: dict | str) -> None:
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.fake.requests.append(self.path)
        if self.path == "/api/tags":
            self._send(200, {"models": [self.fake.model_entry()]})
        elif self.path == "/api/version":
            self._send(200, {"version": "0.0.0-loopback"})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        self.fake.requests.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/api/show":
            return self._show(body)
        if self.path != "/api/chat":
            return self._send(404, {"error": "not found"})
        if body.get("model") != self.fake.model_name:
            return self._send(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
        self._chat(body, self.fake.faults.popleft() if self.fake.faults else "")

    def _show(self, body: dict) -> None:
        if body.get("model") != self.fake.model_name:
            return self._send(404, {"error": f"model '{body.get('model')}' not found"})
        self._send(200, {"modelfile": f"FROM {self.fake.model_name}", "parameters": "", "template": "{{ .Prompt }}",
                         "details": self.fake.model_entry()["details"], "model_info": {"general.architecture": "llama"}})

    def _chat(self, body: dict, fault: str) -> None:
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":")[1]))
        elif fault in ("500", "503"):
            return self._send(int(fault), {"error": "server busy" if fault == "503" else "internal error"})
        elif fault == "badjson":
            return self._send(200, "{this is not json")
        elif fault in ("drop", "die"):
            if fault == "die":
                self.fake.die()
            self.close_connection = True
            return
        reply = self.fake.chat(body)
        if fault == "badcontent":
            self.fake.set_content(reply, "Sure! Here is my answer: ninety days, take it or leave it.")
        elif fault == "huge":
            self.fake.set_content(reply, '{"a":' * 200_000)
        elif fault == "superscript":
            self.fake.set_content(reply, json.dumps({"move": "offer", "value": "\u00b2", "emotion": "joy",
                                                     "message": "Two days."}))
        self._send(200, reply)


FakeOllama.handler = Handler
