"""Prometheus metrics of one dialer node (`GET /metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active_calls = Gauge("robot_active_calls", "Calls in progress", registry=r)
        self.free_slots = Gauge("robot_free_call_slots", "Call slots free in ready workers", registry=r)
        self.workers_alive = Gauge("robot_workers_alive", "Call-worker processes ready", registry=r)
        self.worker_restarts = Counter("robot_worker_restarts", "Call workers that died and were restarted", registry=r)
        self.queue_depth = Gauge("robot_queue_depth", "Queued warnings", ["risk"], registry=r)
        self.warnings_accepted = Counter("robot_warnings_accepted", "New warnings stored", ["risk"], registry=r)
        self.warnings_rejected = Counter("robot_warnings_rejected", "Warnings refused at intake", registry=r)
        self.calls_started = Counter("robot_calls_started", "INVITEs sent", registry=r)
        self.outcomes = Counter("robot_call_outcomes", "Attempt outcomes", ["outcome"], registry=r)
        self.sip_status = Counter("robot_call_sip_status", "Final SIP status of attempts", ["code"], registry=r)
        self.escalations = Counter("robot_escalations", "Escalations opened", ["reason", "mode"], registry=r)
        self.interrupted = Counter("robot_attempts_interrupted", "Attempts lost to a restart or a dead worker", registry=r)
        self.circuit_open = Gauge("robot_trunk_circuit_open", "1 while the trunk circuit breaker stops dialling", registry=r)
        self.circuit_trips = Counter("robot_trunk_circuit_trips", "Times the trunk circuit breaker opened", registry=r)
        self.deliveries = Counter("robot_deliveries", "Webhook delivery tries", ["result"], registry=r)
        self.asr_latency = Histogram(
            "robot_asr_final_latency_seconds", "End of speech to the recogniser's final result", buckets=LATENCY_BUCKETS, registry=r
        )
        self.tts_latency = Histogram(
            "robot_tts_first_audio_seconds", "Prompt requested to its first audio ready", buckets=LATENCY_BUCKETS, registry=r
        )
        self.audio_underruns = Counter(
            "robot_audio_underruns", "20 ms receive ticks with no callee audio ready (media gaps)", registry=r
        )
        self.frames_received = Counter("robot_audio_frames_received", "20 ms frames of callee audio received", registry=r)
        self.frames_late = Counter(
            "robot_audio_frames_late", "Callee frames processed more than 100 ms after arrival, or dropped", registry=r
        )
        self.recognizer_restarts = Counter(
            "robot_recognizer_restarts", "Recogniser streams replaced mid-call after a failure (the call went on)", registry=r
        )
        self.results_waiting = Gauge(
            "robot_results_waiting", "Worker reports not stored yet (the store was unavailable)", registry=r
        )
        self.store_available = Gauge("robot_store_available", "0 while the store cannot be used (locked, full disk)", registry=r)
        self.delivery_backlog = Gauge("robot_delivery_backlog", "Webhook deliveries not delivered yet", registry=r)
        self.delivery_oldest_seconds = Gauge(
            "robot_delivery_oldest_undelivered_seconds", "Age of the oldest delivery not delivered yet", registry=r
        )
        self._deliveries_counted = (0, 0)
        self.dial_latency = Histogram(
            "robot_warning_to_dial_seconds", "Warning accepted to its first INVITE", buckets=LATENCY_BUCKETS, registry=r
        )

    def count_deliveries(self, delivered: int, failed_tries: int) -> None:
        """Add the deliverer's totals since the last call to the delivery counter."""
        before_delivered, before_failed = self._deliveries_counted
        self.deliveries.labels("delivered").inc(delivered - before_delivered)
        self.deliveries.labels("failed").inc(failed_tries - before_failed)
        self._deliveries_counted = (delivered, failed_tries)
