"""The SQLite schema, as numbered migrations: `PRAGMA user_version` says how many ran."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE warnings (
        id INTEGER PRIMARY KEY,
        external_id TEXT NOT NULL UNIQUE,
        phone TEXT NOT NULL,
        dial_number TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        risk TEXT NOT NULL,
        fraud_type TEXT NOT NULL,
        language TEXT NOT NULL,
        received_at TEXT NOT NULL,
        callback_url TEXT,
        extra TEXT NOT NULL DEFAULT '{}',
        accepted_at REAL NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        trunk_failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        script TEXT,
        outcome TEXT,
        merged_into INTEGER REFERENCES warnings(id),
        lease_owner TEXT,
        lease_expires_at REAL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX warnings_due ON warnings(status, next_attempt_at);
    CREATE INDEX warnings_phone ON warnings(phone, status);
    CREATE TABLE attempts (
        id INTEGER PRIMARY KEY,
        warning_id INTEGER NOT NULL REFERENCES warnings(id),
        number INTEGER NOT NULL,
        phone TEXT NOT NULL,
        worker TEXT NOT NULL,
        script TEXT NOT NULL,
        script_version TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        state TEXT NOT NULL,
        sip_status INTEGER,
        call_outcome TEXT,
        outcome TEXT,
        answered INTEGER NOT NULL DEFAULT 0,
        duration_seconds REAL,
        transcript TEXT NOT NULL DEFAULT '[]',
        escalation TEXT,
        recording TEXT
    );
    CREATE INDEX attempts_warning ON attempts(warning_id);
    CREATE INDEX attempts_phone ON attempts(phone, started_at);
    CREATE INDEX attempts_in_flight ON attempts(state);
    CREATE TABLE escalations (
        id INTEGER PRIMARY KEY,
        warning_id INTEGER NOT NULL REFERENCES warnings(id),
        attempt_id INTEGER REFERENCES attempts(id),
        reason TEXT NOT NULL,
        phrase TEXT NOT NULL DEFAULT '',
        mode TEXT NOT NULL,
        status TEXT NOT NULL,
        claimed_by TEXT,
        notes TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        claimed_at REAL,
        resolved_at REAL
    );
    CREATE INDEX escalations_status ON escalations(status, created_at);
    CREATE UNIQUE INDEX escalations_attempt ON escalations(attempt_id) WHERE attempt_id IS NOT NULL;
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        subject_id INTEGER NOT NULL,
        url TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        next_try_at REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX deliveries_due ON deliveries(status, next_try_at);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        warning_id INTEGER,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_warning ON audit(warning_id);
    """,
    # 2: escalation notes are appended (author and time), never replaced; a resolved
    # escalation is final; the audit log is append-only. Notes written before (one text per
    # escalation, in escalations.notes, which stays as it was) become each one's first note.
    """
    CREATE TABLE escalation_notes (
        id INTEGER PRIMARY KEY,
        escalation_id INTEGER NOT NULL REFERENCES escalations(id),
        author TEXT NOT NULL,
        written_at REAL NOT NULL,
        text TEXT NOT NULL
    );
    CREATE INDEX escalation_notes_escalation ON escalation_notes(escalation_id, id);
    INSERT INTO escalation_notes (escalation_id, author, written_at, text)
        SELECT id, COALESCE(claimed_by, ''), COALESCE(resolved_at, claimed_at, created_at), notes
        FROM escalations WHERE notes != '';
    CREATE TRIGGER escalation_notes_are_never_changed BEFORE UPDATE ON escalation_notes
        BEGIN SELECT RAISE(ABORT, 'escalation notes are appended, never changed'); END;
    CREATE TRIGGER escalation_notes_are_never_deleted BEFORE DELETE ON escalation_notes
        BEGIN SELECT RAISE(ABORT, 'escalation notes are appended, never deleted'); END;
    CREATE TRIGGER resolved_escalations_are_final BEFORE UPDATE ON escalations WHEN OLD.status = 'resolved'
        BEGIN SELECT RAISE(ABORT, 'a resolved escalation is final'); END;
    CREATE TRIGGER audit_is_never_changed BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_is_never_deleted BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    # 3: a robot-side error is its own outcome, counted per warning, with its error text on
    # the attempt. Deliveries are an outbox: the store records what must be sent (an
    # escalation, a finished warning's outcome); where it goes and its body are fixed by the
    # deliverer at the first try. A delivery is never given up: those an older release gave up
    # on are pending again, and high-risk warnings finished at intake (which never got their
    # outcome delivery) get one now. The officers' queue is read by status in id order.
    """
    ALTER TABLE warnings ADD COLUMN robot_errors INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE attempts ADD COLUMN error TEXT;
    CREATE TABLE deliveries_3 (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        subject_id INTEGER NOT NULL,
        url TEXT,
        payload TEXT,
        status TEXT NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        next_try_at REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        delivered_at REAL
    );
    INSERT INTO deliveries_3 (id, kind, subject_id, url, payload, status, tries, next_try_at, last_error, created_at,
                              delivered_at)
        SELECT id, kind, subject_id, url, payload, CASE status WHEN 'failed' THEN 'pending' ELSE status END, tries,
               next_try_at, last_error, created_at, delivered_at
        FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_3 RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries(status, kind, next_try_at);
    CREATE INDEX deliveries_subject ON deliveries(kind, subject_id);
    INSERT INTO deliveries (kind, subject_id, status, next_try_at, created_at)
        SELECT 'outcome', w.id, 'pending', w.updated_at, w.updated_at FROM warnings w
        WHERE w.status IN ('done', 'merged') AND w.outcome IS NOT NULL AND w.risk = 'high'
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.kind = 'outcome' AND d.subject_id = w.id);
    CREATE INDEX escalations_queue ON escalations(status, id);
    """,
]
