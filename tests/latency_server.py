"""A loopback model server with a fixed latency and no model: what a batching GPU server looks like
from outside (every request answered after ``latency`` seconds, however many are in flight).

It speaks the OpenAI chat-completions API (``/v1/models``, ``/v1/chat/completions``) and Ollama's
(``/api/tags``, ``/api/chat``). Replies are valid actions chosen from a digest of the request, so a
tournament against it is deterministic whatever the concurrency. It counts requests in flight (the
peak, and samples every 5 ms for the median), and can inject faults: a capacity beyond which it
answers 429 or 503 (with or without Retry-After), and dying with requests in flight.

Run it standalone (``python -m tests.latency_server --latency 0.5``): it prints its URL, and
``GET /stats`` returns its counts as JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import statistics
import threading
from dataclasses import dataclass, field

from aiohttp import web

MODEL = "loopback-model"
_OFFER = re.compile(r"Their last offer: (\d+)")


@dataclass
class Faults:
    """Faults to inject: answer ``status`` (429 or 503) beyond ``capacity`` requests in flight."""

    capacity: int | None = None
    status: int = 429
    retry_after: str | None = None


def choose(messages: list, schema: dict | None, seed: int) -> dict:
    """A valid action decided by the request alone: an offer, or an accept one time in five when the
    other side has an offer standing."""
    digest = hashlib.blake2b(json.dumps([messages, seed], sort_keys=True).encode(), digest_size=8).digest()
    h = int.from_bytes(digest, "little")
    props = (schema or {}).get("properties", {})
    emotions = props.get("emotion", {}).get("enum", ["neutral"])
    low, high = props.get("value", {}).get("minimum", 0), props.get("value", {}).get("maximum", 100)
    last = messages[-1].get("content", "") if messages and isinstance(messages[-1], dict) else ""
    standing = _OFFER.search(last if isinstance(last, str) else "")
    value = low + h % (high - low + 1)
    move = "accept" if standing and (h >> 20) % 5 == 0 else "offer"
    return {"move": move, "value": value, "emotion": emotions[(h >> 8) % len(emotions)],
            "message": "Agreed." if move == "accept" else f"I can do {value}."}


@dataclass
class LatencyServer:
    """``with LatencyServer(latency=0.5) as server:``; ``server.url`` for Ollama, ``server.openai_url``."""

    latency: float = 0.5
    faults: Faults = field(default_factory=Faults)
    in_flight: int = 0
    peak: int = 0
    requests: int = 0
    refused: int = 0
    samples: list = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/api/tags", self.tags)
        app.router.add_post("/v1/chat/completions", self.openai_chat)
        app.router.add_post("/api/chat", self.ollama_chat)
        app.router.add_get("/stats", self.stats_view)
        app.router.add_post("/reset", self.reset_view)
        return app

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "loopback"}]})

    async def tags(self, request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": MODEL, "model": MODEL}]})

    async def _answer(self, messages: list, schema: dict | None, seed: int) -> dict | web.Response:
        if self.faults.capacity is not None and self.in_flight >= self.faults.capacity:
            self.refused += 1
            headers = {"Retry-After": self.faults.retry_after} if self.faults.retry_after else {}
            return web.json_response({"error": {"message": "server full"}}, status=self.faults.status, headers=headers)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        self.requests += 1
        return choose(messages, schema, seed)

    async def openai_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        action = await self._answer(body["messages"], schema, body.get("seed", 0))
        if isinstance(action, web.Response):
            return action
        prompt = sum(len(m.get("content", "")) for m in body["messages"]) // 4
        cached = sum(len(m.get("content", "")) for m in body["messages"][:-1]) // 4
        return web.json_response({
            "id": "loopback", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(action)}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": 20, "total_tokens": prompt + 20,
                      "prompt_tokens_details": {"cached_tokens": cached}}})

    async def ollama_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        fmt = body.get("format")
        action = await self._answer(body["messages"], fmt if isinstance(fmt, dict) else None,
                                    (body.get("options") or {}).get("seed", 0))
        if isinstance(action, web.Response):
            return action
        prompt = sum(len(m.get("content", "")) for m in body["messages"]) // 4
        return web.json_response({"model": body["model"], "message": {"role": "assistant", "content": json.dumps(action)},
                                  "done": True, "prompt_eval_count": prompt, "eval_count": 20})

    def stats(self) -> dict:
        busy = [s for s in self.samples if s > 0]
        return {"requests": self.requests, "peak": self.peak, "refused": self.refused,
                "median_in_flight": statistics.median(busy) if busy else 0}

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def reset(self) -> None:
        """Start counting anew (between the phases of a benchmark)."""
        self.samples.clear()
        self.peak = self.requests = self.refused = 0

    async def reset_view(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response(self.stats())

    async def _sample(self) -> None:
        while True:
            self.samples.append(self.in_flight)
            await asyncio.sleep(0.005)

    async def start(self, port: int = 0) -> int:
        self.runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port, backlog=1024)
        await site.start()
        self.sampler = asyncio.get_running_loop().create_task(self._sample())
        return site._server.sockets[0].getsockname()[1]

    def __enter__(self) -> "LatencyServer":
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.start(), self.loop).result(10)
        self.url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.url}/v1"
        return self

    def die(self) -> None:
        """Stop at once: the listener closes and requests in flight are dropped."""
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)

    def __exit__(self, *exc) -> None:
        self.sampler.cancel()
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = LatencyServer(latency=args.latency)

    async def serve() -> None:
        port = await server.start(args.port)
        print(f"http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
