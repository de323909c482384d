"""Language backends: scripted (no model), llama-cpp (embedded), ollama (served)."""
from agents.llm.base import (Backend, BackendError, ChatRequest, Completion, ConfigError, GenerationOptions,
                             HostUnavailable)
from agents.llm.cache import CachedBackend, ResponseCache
from agents.llm.factory import BACKENDS, BackendSpec, make_backend
from agents.llm.schema import action_schema, label_schema
from agents.llm.scripted import ScriptedBackend
from agents.llm.structured import CallStats, parse_action, parse_reply_text, request_structured

__all__ = [
    "BACKENDS", "Backend", "BackendError", "BackendSpec", "HostUnavailable", "CachedBackend", "CallStats", "ChatRequest",
    "Completion", "ConfigError", "GenerationOptions", "ResponseCache", "ScriptedBackend", "action_schema",
    "label_schema", "make_backend", "parse_action", "parse_reply_text", "request_structured",
]
