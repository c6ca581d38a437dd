"""Takes: record everything a stream sees and makes, read it back, export it, re-render it offline.

Recording (``TakeRecorder``) -- the hook API the server calls
==============================================================

::

    recorder = TakeRecorder(takes_dir, name=None, clock_ns=time.monotonic_ns, fps_hint=30.0)
    info = recorder.start({stream_key: pipeline_as_dict(runtime.pipeline), ...})  # creates <takes_dir>/<name>/
    recorder.on_input(stream_key, index, t_capture_ns, timecode, color, depth_m, mask, color_format="RGBA8")
    recorder.on_output(stream_key, index, color, held, color_format="RGBA8")
    recorder.on_control(stream_key, stage, params, glide_ms, input_index)
    recorder.on_mocap(performer, fields, payload)
    recorder.on_audio(stream_key, t_capture_ns, sample_rate_hz, channels, pcm_s16)
    info = recorder.stop()     # or: recorder.request_stop() (returns at once), later recorder.wait()
    recorder.failed            # None, or why recording stopped early

Where the server calls them:

* ``on_input`` -- on the I/O thread in ``_on_frame``, after ``check_frame``,
  with the received planes as they are (``runtime.to_stage_frame(...)`` gives
  ``input_color`` / ``input_format`` / ``depth`` / ``mask`` / ``timecode``):
  pass ``color_format=decl.color_format`` and the recorder converts to RGB on
  its own thread.  ``stream_key`` is any string naming the stream uniquely in
  the take, e.g. ``f"{engine_id}/{stream_id}:{name}"``.
* ``on_output`` -- in ``_on_output`` (stage thread) with ``output`` (stream's
  colour format, ``color_format=...``), ``frame.index`` and ``frame.held``.
* ``on_control`` -- after a CONTROL (or OSC / ``apply_control``) was accepted
  by a stream: the params as applied and ``input_index`` = the index of the
  next input frame that stream will receive (last received index + 1).
  Re-rendering applies it just before that frame.  (Live, a frame received
  earlier but still waiting for a stage may already see the change: the
  recorded timeline can differ from live by the frames in flight, 1-2.)
* ``on_mocap`` -- for every pose relayed (``Mocap.fields`` without v/kind, and
  its one binary part), from whichever thread relays it.
* ``on_audio`` -- for every audio chunk: interleaved little-endian int16.

Thread-safety and cost: every hook may be called from any thread, concurrently.
A hook stamps the take clock (``clock_ns`` at the call: one clock for every
kind of event), checks its arguments' shapes, and puts a *reference* on a
queue -- a few microseconds (``bench record`` measures p50 ~20 us), no copy of
pictures, no disk, no lock held longer than a queue put; only the first call
for a stream key not named in ``start`` also starts that stream's writer thread.  Arrays are kept by reference until
written, so the caller must not modify them after the call (the server never
does: input planes are views of received messages, outputs are fresh arrays).
Hooks raise ``ValueError`` only for malformed arguments (wrong dtype, shape or
format) -- never for disk or encoder trouble.  Calls before ``start`` or after
``stop``/a failure return immediately.  ``start`` does disk work (a few
fsyncs: milliseconds) and ``stop`` waits for the writers to encode and commit
what is queued (up to a good fraction of a second): both belong on a control
path, not the frame path -- on a thread that must not block (the server's I/O
thread) call ``request_stop()``, which returns at once and finishes the take
on a background thread (``wait()`` gives the final ``TakeInfo``).  ``start``
raises ``OSError``/``FileExistsError`` when the take cannot be created.

Never losing a take: writers run on their own threads (one per stream, one
for CONTROLs and poses, one committing finished segments), at a lower CPU
priority than the live stream, in bursts every ``burst_s`` (0.2 s).
Pictures are cut into ``segment_s`` (0.5 s) segments; each finished segment
is fsynced and renamed and its table written last (``layout``), so a process
killed mid-take loses only its unfinished segment and at worst the one
before it, if it had not been committed yet: under a second in all.
Queues are bounded (``max_queued_bytes``, ``max_writer_lag_s``); when a
writer cannot keep up, or any write fails (disk full...), recording *stops
loudly* -- ERROR logged, ``failed`` set, manifest status ``failed`` -- and keeps
everything committed; frames are never dropped silently and the live stream
never waits.

Deferred encoding (``EncodingSettings.deferred``, the default): while the
take records, pictures are written raw (rgb24 in NUT) -- about a quarter of
the CPU of encoding them -- and a compactor *process* (``compactor``) at
``SCHED_IDLE`` priority re-encodes each committed segment into its final
codec (inputs lossless libx264rgb, outputs H.264) in the CPU time the live
pipeline leaves idle, then swaps the segment's table to the new file.  A
segment is complete and readable before, during and after its compaction;
``takes compact`` finishes segments a crash left raw.  Streams too large to
write raw (``deferred_max_mib_per_s``) are encoded live as before.

Reading and using takes
=======================

* ``TakeReader(path)`` -- opens any take, including one whose recording
  process was killed (``interrupted``: its manifest is rebuilt from the
  committed segments); iterates ``input_frames`` (with the controls applied
  before each), ``output_frames``, ``controls``, ``mocap``, ``audio_chunks``.
* ``export(take, out_dir)`` (= ``export_take``) -- MP4 per stream (+ WAV) and BVH per performer.
* ``rerender(take, pipeline_config, out_path, progress)`` -- replay inputs,
  controls (glides on the take clock) and mocap through any pipeline, one
  output frame per recorded input frame, in order.
* ``bridge.takes.cli.add_subcommands(subparsers)`` -- ``takes list|show|export|compact|rerender``.
* ``bridge.takes.record_bench.run_record_bench`` -- ``bench record``.
"""

from __future__ import annotations

from bridge.takes.export import ExportResult, export, export_take
from bridge.takes.layout import TakeFormatError
from bridge.takes.manifest import StreamSummary, TakeInfo
from bridge.takes.reader import (
    AudioChunk, ControlEvent, InputFrame, MocapRecord, OutputFrame, TakeReader, list_takes, resolve_take,
)
from bridge.takes.recorder import TakeRecorder
from bridge.takes.rerender import (
    RerenderError, RerenderProgress, RerenderReport, pipeline_as_dict, recorded_pipeline, rerender,
)
from bridge.takes.segments import EncodingSettings
from bridge.takes.timecode import TakeTimecode, TimecodeRate

__all__ = [
    "AudioChunk", "ControlEvent", "EncodingSettings", "ExportResult", "InputFrame", "MocapRecord", "OutputFrame",
    "RerenderError", "RerenderProgress", "RerenderReport", "StreamSummary", "TakeFormatError", "TakeInfo",
    "TakeReader", "TakeRecorder", "TakeTimecode", "TimecodeRate", "export", "export_take", "list_takes",
    "pipeline_as_dict", "recorded_pipeline", "rerender", "resolve_take",
]
