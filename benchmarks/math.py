"""Typesetting formulas: what the helper process spends on one, and how long the window
waits for it.

Figures:
- typeset_median_ms, typeset_worst_ms: ziamath typesetting (core/math.py `typeset`) of 40
  formulas as models write them (median and worst of 3 passes each), in this process
- parse_median_ms: latex2mathml's parse of the same formulas, the part of the work every
  LaTeX-to-MathML tool does: the baseline; typeset_ratio the two medians over each other
- longest_allowed_ms: the longest formula typeset (MAX_SOURCE characters of sums), the
  bound a hostile formula meets; nested_refused_ms: 10,000 nested braces, refused
- window_ms_median, window_ms_worst: from a document asking for a formula to its image in
  the window (the helper process, its answer, the SVG drawn), the helper already started
- gui_stall_ms_max: the longest the window's event loop went without a turn meanwhile
"""

from __future__ import annotations

import os
import statistics
import time

FORMULAS = [
    r"E = mc^2",
    r"e^{i\pi} + 1 = 0",
    r"a^2 + b^2 = c^2",
    r"x = \frac{-b \pm \sqrt{b^2 - 4ac}}{2a}",
    r"\int_0^1 x^2\,dx = \frac{1}{3}",
    r"\sum_{n=1}^{\infty} \frac{1}{n^2} = \frac{\pi^2}{6}",
    r"\lim_{x \to 0} \frac{\sin x}{x} = 1",
    r"\nabla \cdot \mathbf{E} = \frac{\rho}{\varepsilon_0}",
    r"\binom{n}{k} = \frac{n!}{k!(n-k)!}",
    r"f(x) = \sum_{k=0}^{\infty} \frac{f^{(k)}(a)}{k!} (x-a)^k",
    r"\det(A - \lambda I) = 0",
    r"P(A \mid B) = \frac{P(B \mid A)\,P(A)}{P(B)}",
    r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}",
    r"\mathcal{O}(n \log n)",
    r"\hat{y} = \sigma(Wx + b)",
    r"\frac{\partial L}{\partial w} = \frac{1}{N}\sum_i (y_i - \hat{y}_i) x_i",
    r"\oint_C \mathbf{B} \cdot d\mathbf{l} = \mu_0 I",
    r"\prod_{i=1}^{n} x_i",
    r"\sqrt[3]{x^3 + y^3}",
    r"\alpha + \beta = \gamma",
] * 2


def run(quick: bool = False) -> dict[str, object]:
    from latex2mathml.converter import convert

    from desktop_chat.core.math import MAX_SOURCE, Formula, refusal, typeset

    formulas = FORMULAS[:8] if quick else FORMULAS
    typeset(Formula("x", False, 16.0, "#000000"))  # imports and the font, once
    typeset_times, parse_times = [], []
    for tex in formulas:
        formula = Formula(tex, False, 16.0, "#1f2328")
        runs, parses = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            typeset(formula)
            runs.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            convert(tex)
            parses.append(time.perf_counter() - t0)
        typeset_times.append(min(runs) * 1000)
        parse_times.append(min(parses) * 1000)
    longest = ("\\sum_{i=1}^{n} x_i + " * (MAX_SOURCE // 20))[: MAX_SOURCE - 3] + "x"
    assert refusal(longest) is None
    t0 = time.perf_counter()
    typeset(Formula(longest, False, 16.0, "#1f2328"))
    longest_ms = (time.perf_counter() - t0) * 1000
    nested = "{" * 10_000 + "x" + "}" * 10_000
    t0 = time.perf_counter()
    assert refusal(nested) is not None
    nested_ms = (time.perf_counter() - t0) * 1000
    window = measure_window(formulas[: 8 if quick else 20])
    return {
        "formulas": len(formulas),
        "typeset_median_ms": round(statistics.median(typeset_times), 2),
        "typeset_worst_ms": round(max(typeset_times), 2),
        "parse_median_ms": round(statistics.median(parse_times), 2),
        "typeset_ratio": round(statistics.median(typeset_times) / statistics.median(parse_times), 2),
        "longest_allowed_chars": len(longest),
        "longest_allowed_ms": round(longest_ms, 1),
        "nested_refused_ms": round(nested_ms, 3),
        **window,
    }


def measure_window(formulas: list[str]) -> dict[str, float]:
    """Each formula asked for by a document in the window, one after another; the time to
    its image, and the event loop's longest gap meanwhile."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop_chat.core.math import Formula, name_for
    from desktop_chat.ui.math_images import math_images
    from desktop_chat.ui.transcript.segments import DocumentView

    app = QApplication.instance() or QApplication([])
    images = math_images()
    view = DocumentView()
    ready: dict[str, float] = {}
    clock = QElapsedTimer()
    clock.start()
    view.math_ready = lambda name, image: ready.__setitem__(name, clock.nsecsElapsed() / 1e6)  # type: ignore[method-assign]
    gaps = {"last": 0.0, "max": 0.0}

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if gaps["last"]:
            gaps["max"] = max(gaps["max"], now - gaps["last"])
        gaps["last"] = now

    heartbeat = QTimer(interval=1)
    heartbeat.timeout.connect(tick)
    heartbeat.start()
    warm = name_for(Formula("y", False, 15.0, "#000000"))
    images.image(warm, view)  # the helper starts (Python and ziamath imported): not timed
    while warm not in ready:
        app.processEvents()
    times = []
    for number, tex in enumerate(formulas):
        name = name_for(Formula(tex, number % 2 == 0, 17.0, "#1f2328"))
        asked = clock.nsecsElapsed() / 1e6
        images.image(name, view)
        while name not in ready:
            app.processEvents()
        times.append(ready[name] - asked)
    heartbeat.stop()
    images.shut_down()
    return {
        "window_ms_median": round(statistics.median(times), 2),
        "window_ms_worst": round(max(times), 2),
        "gui_stall_ms_max": round(max(0.0, gaps["max"] - 1.0), 2),
    }
