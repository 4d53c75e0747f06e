"""Failures mapped once: any exception from the SDK or the HTTP library, or a response that is
not the API, in words for the user. Nothing above this module knows the SDK's exception types."""

from __future__ import annotations

import json
import socket
from typing import Any

from .events import Failure, FailureKind, MalformedChunk


def content_type_problem(response: Any) -> Failure | None:
    """A 200 answer that is a web page (a proxy, a captive portal, a wrong base URL)."""
    kind = response.headers.get("content-type", "")
    if "html" in kind:
        return Failure(
            FailureKind.HTML,
            f"The server at {response.url.host} answered with a web page, not the API "
            f"(HTTP {response.status_code}). Is the base URL right, or is a proxy or captive portal in the way?",
            status=response.status_code,
        )
    return None


def _retry_after(headers: Any) -> float | None:
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / divisor)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if value:
        import time
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
    return None


def _server_detail(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str) and message:
            return message[:300]
    if isinstance(body, str) and body and "<" not in body[:50]:
        return body[:300]
    return ""


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _about_images(detail: str) -> bool:
    """A 400 that says the model does not see images (OpenAI: "image_url is only supported by
    certain models"; llama.cpp: "image input is not supported"; Ollama: "does not support images")."""
    text = detail.lower()
    return ("image" in text or "vision" in text or "multimodal" in text) and (
        "support" in text or "not allowed" in text or "invalid content type" in text
    )


def describe_failure(exc: BaseException, base_url: str, host: str, model: str, mid_stream: bool = False) -> Failure:
    """Map any exception from the SDK or the HTTP library to words for the user."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _server_detail(exc)
        suffix = f" The server said: {detail}" if detail else ""
        if "html" in exc.response.headers.get("content-type", ""):
            return Failure(
                FailureKind.HTML,
                f"The server at {host} answered with a web page, not the API (HTTP {status}). "
                "Is the base URL right, or is a proxy in the way?",
                status=status,
            )
        if status == 401:
            return Failure(
                FailureKind.AUTH,
                f"{host} rejected the API key (401). Check the key in Providers.{suffix}",
                status=status,
            )
        if status == 403:
            return Failure(FailureKind.AUTH, f"{host} refused access (403).{suffix}", status=status)
        if status == 404:
            return Failure(
                FailureKind.NOT_FOUND,
                f"Not found (404): the model '{model}' or the address {base_url} "
                f"does not exist at this provider.{suffix}",
                status=status,
            )
        if status == 429:
            wait = _retry_after(exc.response.headers)
            when = f" Try again in {wait:.0f} s." if wait is not None else " Wait a moment and try again."
            return Failure(
                FailureKind.RATE_LIMIT, f"Rate limited by {host} (429).{when}{suffix}", status=status, retry_after=wait
            )
        if status >= 500:
            return Failure(
                FailureKind.SERVER,
                f"{host} had a server error ({status}). Try again in a moment.{suffix}",
                status=status,
            )
        if detail and _about_images(detail):
            return Failure(
                FailureKind.BAD_REQUEST,
                f"The model '{model}' at {host} does not take images ({status}). Your message is kept: pick a "
                f"model that sees images and press Retry, or send it again without the image.{suffix}",
                status=status,
            )
        return Failure(FailureKind.BAD_REQUEST, f"{host} refused the request ({status}).{suffix}", status=status)
    if isinstance(exc, openai.APITimeoutError):
        return Failure(FailureKind.TIMEOUT, f"{host} did not answer in time.")
    causes = _chain(exc)
    if any(isinstance(c, socket.gaierror) for c in causes) or any(
        "name or service not known" in str(c).lower()
        or "nodename nor servname" in str(c).lower()
        or "temporary failure in name resolution" in str(c).lower()
        or "getaddrinfo failed" in str(c).lower()
        for c in causes
    ):
        return Failure(
            FailureKind.DNS,
            f"Could not find the server '{host}' (name resolution failed). Check the address and your network.",
        )
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or any("refused" in str(c).lower() for c in causes):
        return Failure(
            FailureKind.CONNECTION, f"Could not connect to {host}: connection refused. Is the server running?"
        )
    if any(isinstance(c, json.JSONDecodeError | MalformedChunk) for c in causes):
        return Failure(FailureKind.MALFORMED, f"{host} sent data the app could not read (a malformed chunk).")
    if isinstance(exc, openai.APIConnectionError) or _is_http_error(exc):
        if mid_stream:
            return Failure(FailureKind.CUT, f"The connection to {host} was cut mid-reply.")
        return Failure(
            FailureKind.CONNECTION, f"Could not reach {host}. Check your network and the provider's address."
        )
    if isinstance(exc, openai.APIError):
        # An error object inside a 200 stream (OpenRouter, llama.cpp, Groq's event: error).
        message = exc.message or "unknown error"
        return Failure(FailureKind.STREAM_ERROR, f"{host} reported an error: {message}")
    return Failure(FailureKind.UNEXPECTED, f"Unexpected error talking to {host}: {type(exc).__name__}: {exc}"[:400])


def _is_http_error(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in {"httpx2", "httpx", "httpcore", "h11", "anyio"} or isinstance(
        exc, ConnectionError | OSError
    )
