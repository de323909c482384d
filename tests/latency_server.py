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
import collections
import hashlib
import json
import random
import re
import statistics
import threading
import time
from dataclasses import dataclass, field

from aiohttp import web

MODEL = "loopback-model"
_OFFER = re.compile(r"Their last offer: (\d+)")


@dataclass
class Faults:
    """Faults to inject into chat requests (model lists always answer):

    - ``capacity``: beyond this many in flight, answer ``status`` (429 or 503), with ``retry_after`` if set;
    - ``full_until``: answer 429 to everything until this time (``time.monotonic()``): a rate-limit window;
    - ``refuse_next``: answer 429 (with ``retry_after`` if set) to this many of the next requests;
    - ``canned``: answers to send instead, in turn: (status, content type, body), no latency;
    - ``drip_s``: send each reply's body one byte at a time, this many seconds apart;
    - ``poison``: a request whose messages contain this text is answered 500, every time;
    - ``unauthorized_after``: after this many chat requests, answer 401;
    - ``random``: a fault named in RANDOM_FAULTS for a share ``rate`` of chat requests, drawn from a
      generator seeded with ``seed`` (the same sequence of faults for the same sequence of requests).
    """

    capacity: int | None = None
    status: int = 429
    retry_after: str | None = None
    full_until: float = 0.0
    refuse_next: int = 0
    canned: collections.deque = field(default_factory=collections.deque)
    drip_s: float = 0.0
    poison: str | None = None
    unauthorized_after: int | None = None
    random: str | None = None
    rate: float = 0.0
    seed: int = 0
    rng: random.Random | None = None

    def drawn(self) -> str | None:
        """The random fault for this request, if one is drawn."""
        if self.random is None:
            return None
        self.rng = self.rng or random.Random(self.seed)
        return self.random if self.rng.random() < self.rate else None


def _body(text: str, status: int = 200, kind: str = "application/json", **headers: str) -> web.Response:
    return web.Response(status=status, body=text.encode(), content_type=kind, headers=headers)


# What each random fault answers: a status a real server sends when full or failing, or a body of a
# shape a real server can send (an answer that is no reply).
RANDOM_FAULTS = {
    "429": lambda: _body('{"error": {"message": "rate limited"}}', 429),
    "429-retry-after": lambda: _body('{"error": {"message": "rate limited"}}', 429, **{"Retry-After": "1"}),
    "503": lambda: _body('{"error": "server busy"}', 503),
    "500-null": lambda: _body("null", 500),
    "empty-list": lambda: _body("[]"),
    "error-200": lambda: _body('{"error": {"message": "model overloaded", "type": "server_error"}}'),
    "content-list": lambda: _body(json.dumps({"choices": [{"message": {"content": [{"type": "image"}]}}],
                                              "message": {"content": 7}})),
    "content-number": lambda: _body(json.dumps({"choices": [{"message": {"content": 42}}], "message": {"content": 42}})),
    "html": lambda: _body("<html><body>Bad gateway</body></html>", 200, "text/html"),
    "deep": lambda: _body("[" * 100_000 + "]" * 100_000),
}


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
    requests: int = 0  # chat requests answered with a reply
    chats: int = 0  # chat requests received
    refused: int = 0
    injected: int = 0  # random faults answered
    samples: list = field(default_factory=list)
    arrivals: list = field(default_factory=list)  # when each chat request arrived (time.monotonic())

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

    def _fault(self, messages: list) -> web.Response | None:
        """The fault to answer with instead of a reply, if one applies."""
        faults = self.faults
        if faults.canned:
            status, kind, body = faults.canned.popleft()
            return web.Response(status=status, body=body if isinstance(body, bytes) else body.encode(),
                                content_type=kind)
        drawn = faults.drawn()
        if drawn is not None:
            self.injected += 1
            return RANDOM_FAULTS[drawn]()
        if faults.unauthorized_after is not None and self.chats >= faults.unauthorized_after:
            return web.json_response({"error": {"message": "invalid api key"}}, status=401)
        if faults.poison and faults.poison in json.dumps(messages):
            return web.json_response({"error": {"message": "internal error"}}, status=500)
        full = faults.capacity is not None and self.in_flight >= faults.capacity
        if faults.refuse_next > 0:
            faults.refuse_next -= 1
            full = True
        if full or time.monotonic() < faults.full_until:
            self.refused += 1
            headers = {"Retry-After": faults.retry_after} if faults.retry_after else {}
            return web.json_response({"error": {"message": "server full"}}, status=faults.status if full else 429,
                                     headers=headers)
        return None

    async def _answer(self, messages: list, schema: dict | None, seed: int) -> dict | web.Response:
        self.chats += 1
        self.arrivals.append(time.monotonic())
        fault = self._fault(messages)
        if fault is not None:
            return fault
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1
        self.requests += 1
        return choose(messages, schema, seed)

    async def _reply(self, request: web.Request, payload: dict) -> web.StreamResponse:
        """The reply as JSON, all at once or dripped byte by byte."""
        if not self.faults.drip_s:
            return web.json_response(payload)
        body = json.dumps(payload).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        for i in range(len(body)):
            await response.write(body[i:i + 1])
            await asyncio.sleep(self.faults.drip_s)
        await response.write_eof()
        return response

    async def openai_chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        fmt = body.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        action = await self._answer(body["messages"], schema, body.get("seed", 0))
        if isinstance(action, web.Response):
            return action
        prompt = sum(len(m.get("content", "")) for m in body["messages"]) // 4
        cached = sum(len(m.get("content", "")) for m in body["messages"][:-1]) // 4
        return await self._reply(request, {
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
        return await self._reply(request, {"model": body["model"], "done": True, "prompt_eval_count": prompt,
                                           "message": {"role": "assistant", "content": json.dumps(action)},
                                           "eval_count": 20})

    def stats(self) -> dict:
        busy = [s for s in self.samples if s > 0]
        return {"requests": self.requests, "peak": self.peak, "refused": self.refused, "injected": self.injected,
                "median_in_flight": statistics.median(busy) if busy else 0}

    async def stats_view(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    def reset(self) -> None:
        """Start counting anew (between the phases of a benchmark)."""
        self.samples.clear()
        self.arrivals.clear()
        self.peak = self.requests = self.refused = self.chats = self.injected = 0

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
    parser.add_argument("--fault", choices=sorted(RANDOM_FAULTS), help="inject this fault at random")
    parser.add_argument("--rate", type=float, default=0.3, help="the share of chat requests --fault answers")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    server = LatencyServer(latency=args.latency, faults=Faults(random=args.fault, rate=args.rate, seed=args.seed))

    async def serve() -> None:
        port = await server.start(args.port)
        print(f"http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
