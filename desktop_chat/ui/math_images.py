"""Formulas as images for the transcript's documents: typeset in the helper process
(core/math.py, `desktop-chat --typeset`), drawn from its SVG here, cached; until a formula
is typeset (or if it cannot be), its source shows in its place, as code.

A document asks for `math:<digest>` (the renderer named it, core/math.py `name_for`); the
answer comes later, and the views that asked are handed the image (`DocumentView.math_ready`).
"""

from __future__ import annotations

import atexit
import json
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QCoreApplication, QEventLoop, QObject, QProcess, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from desktop_chat.core.math import Formula, formula_named, helper_command

if TYPE_CHECKING:
    from desktop_chat.ui.transcript.segments import DocumentView

# Typeset formulas kept as images (the most recent).
IMAGES_KEPT = 600
# A formula that takes longer than this is given up (the helper is started again).
TYPESET_TIMEOUT_MS = 8_000
# Half the x-height, in ems: Qt centres an image aligned "middle" that far above the
# baseline, where the math axis (a fraction's bar) is, so formulas sit on the text's line.
HALF_X_HEIGHT = 0.27


class MathImages(QObject):
    def __init__(self) -> None:
        super().__init__()
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._failed: set[str] = set()
        self._askers: dict[str, weakref.WeakSet[DocumentView]] = {}
        self._in_flight: dict[int, str] = {}
        self._next_id = 0
        self._process: QProcess | None = None
        self._buffer = b""
        self._watchdog = QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.setInterval(TYPESET_TIMEOUT_MS)
        self._watchdog.timeout.connect(self._give_up)
        self.typeset_count = 0  # (for tests and benchmarks)

    def image(self, name: str, asker: DocumentView | None = None) -> QImage | None:
        """The formula's image if typeset; else its source drawn as code, and it is asked for."""
        found = self._images.get(name)
        if found is not None:
            self._images.move_to_end(name)
            return found
        formula = formula_named(name)
        if formula is None:
            return None
        if name not in self._failed:
            if asker is not None:
                self._askers.setdefault(name, weakref.WeakSet()).add(asker)
            if name not in self._in_flight.values():
                self._ask(name, formula)
        return source_image(formula)

    def settle(self, timeout_ms: int = 5_000) -> None:
        """Wait (the event loop running) until what was asked for is typeset (printing)."""
        if not self._in_flight:
            return
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: loop.quit() if not self._in_flight else None)
        QTimer.singleShot(timeout_ms, loop.quit)
        timer.start()
        loop.exec()
        timer.stop()

    def _ask(self, name: str, formula: Formula) -> None:
        process = self._helper()
        self._next_id += 1
        self._in_flight[self._next_id] = name
        request = {
            "id": self._next_id,
            "tex": formula.tex,
            "display": formula.display,
            "size": formula.size,
            "color": formula.color,
        }
        process.write(QByteArray((json.dumps(request) + "\n").encode()))
        if not self._watchdog.isActive():
            self._watchdog.start()

    def _helper(self) -> QProcess:
        if self._process is None or self._process.state() == QProcess.ProcessState.NotRunning:
            process = QProcess(self)
            command = helper_command()
            process.setProgram(command[0])
            process.setArguments(command[1:])
            process.readyReadStandardOutput.connect(self._read)
            process.finished.connect(self._ended)
            # (What the helper prints, a library's warning, is nobody's business here.)
            process.setStandardErrorFile(QProcess.nullDevice())
            process.start()
            self._process = process
            self._buffer = b""
        return self._process

    def _read(self) -> None:
        process = self._process
        if process is None:
            return
        self._buffer += bytes(process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            ident = answer.get("id") if isinstance(answer, dict) else None
            name = self._in_flight.pop(ident, None) if isinstance(ident, int) else None
            if name is None:
                continue
            image = self._draw(answer, formula_named(name)) if "svg" in answer else None
            if image is None:
                self._failed.add(name)  # its source stays in its place
                self._askers.pop(name, None)
                continue
            self.typeset_count += 1
            self._images[name] = image
            while len(self._images) > IMAGES_KEPT:
                self._images.popitem(last=False)
            for view in list(self._askers.pop(name, ())):
                view.math_ready(name, image)
        if self._in_flight:
            self._watchdog.start()
        else:
            self._watchdog.stop()

    def _draw(self, answer: dict[str, object], formula: Formula | None) -> QImage | None:
        svg, width, height, ascent = answer.get("svg"), answer.get("width"), answer.get("height"), answer.get("ascent")
        if formula is None or not isinstance(svg, str):
            return None
        if not all(isinstance(v, int | float) for v in (width, height, ascent)):
            return None
        width, height, ascent = float(width), float(height), float(ascent)  # type: ignore[arg-type]
        renderer = QSvgRenderer(QByteArray(svg.encode()))
        if not renderer.isValid() or width <= 0 or height <= 0:
            return None
        # Pad above or below so that the middle of the image is the math axis.
        axis = HALF_X_HEIGHT * formula.size
        lift = ascent - (height - ascent)
        top, bottom = (0.0, lift - 2 * axis) if lift > 2 * axis else (2 * axis - lift, 0.0)
        scale = _device_pixel_ratio()
        image = QImage(
            max(1, round(width * scale)),
            max(1, round((height + top + bottom) * scale)),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, top * scale, width * scale, height * scale))
        painter.end()
        image.setDevicePixelRatio(scale)
        return image

    def _give_up(self) -> None:
        """The helper did not answer in time (a pathological formula) or ended: the formula
        it was on keeps its source; the others are asked again of a new helper."""
        process, self._process = self._process, None
        if process is not None:
            process.readyReadStandardOutput.disconnect(self._read)
            process.finished.disconnect(self._ended)
            if process.state() != QProcess.ProcessState.NotRunning:
                process.kill()
                process.waitForFinished(1000)
            process.deleteLater()
        waiting = [name for _, name in sorted(self._in_flight.items())]
        self._in_flight.clear()
        self._watchdog.stop()
        if not waiting:
            return
        stuck, *others = waiting
        self._failed.add(stuck)
        self._askers.pop(stuck, None)
        for name in others:
            formula = formula_named(name)
            if formula is not None:
                self._ask(name, formula)

    def _ended(self) -> None:
        self._give_up()

    def shut_down(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.finished.disconnect(self._ended)
            process.closeWriteChannel()
            if not process.waitForFinished(1000):
                process.kill()
                process.waitForFinished(1000)


def source_image(formula: Formula) -> QImage:
    """The formula's source as code, in its place until it is typeset (or for good)."""
    source = f"$${formula.tex}$$" if formula.display else f"${formula.tex}$"
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(max(6, round(formula.size * 0.9)))
    metrics = QFontMetricsF(font)
    scale = _device_pixel_ratio()
    width = metrics.horizontalAdvance(source) + 6
    height = metrics.height() + 2
    image = QImage(
        max(1, round(width * scale)), max(1, round(height * scale)), QImage.Format.Format_ARGB32_Premultiplied
    )
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.scale(scale, scale)
    painter.setFont(font)
    painter.setPen(QColor(formula.color))
    painter.drawText(QRectF(3, 1, width, height), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, source)
    painter.end()
    image.setDevicePixelRatio(scale)
    return image


def _device_pixel_ratio() -> float:
    app = QGuiApplication.instance()
    screens = QGuiApplication.screens() if app is not None else []
    return max([s.devicePixelRatio() for s in screens] or [1.0])


_shared: list[MathImages] = []


def math_images() -> MathImages:
    """The one typesetter of the app (its helper starts with the first formula)."""
    if not _shared:
        images = MathImages()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(images.shut_down)
        atexit.register(images.shut_down)  # (a process that never ran the event loop's end)
        _shared.append(images)
    return _shared[0]
