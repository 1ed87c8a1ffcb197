-- Rotate function: the one-run-at-a-time lease, run records (resume and
-- idempotency per message), named state, the function's own sealed
-- secrets, and the signed audit retention path.

CREATE TABLE rotation_leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	run_id     TEXT NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE rotation_runs (
	id          TEXT PRIMARY KEY,
	started_at  TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ,
	report      TEXT NOT NULL
);
CREATE INDEX rotation_runs_started ON rotation_runs (started_at);

CREATE TABLE rotation_state (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

-- Sealed per the sealed-values convention (store.SealedColumns), so key
-- rotation re-encrypts them like any other secret.
CREATE TABLE rotation_secrets (
	id            TEXT PRIMARY KEY,
	secret        BYTEA NOT NULL,
	secret_key_id TEXT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX rotation_secrets_secret_key ON rotation_secrets (secret_key_id, id);

-- The retention checkpoint is signed (HMAC under a sealed key) by the job
-- that writes it: database access alone cannot forge one.
ALTER TABLE audit_checkpoint ADD COLUMN signature BYTEA;

CREATE INDEX audit_events_at ON audit_events (at);

-- Retention deletes webhook events (billing records) by age.
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Audit retention. The application role cannot delete audit events or
-- change the checkpoint; it inserts a request here, and the trigger below,
-- which runs as the owner of this migration, checks the request, moves the
-- checkpoint and deletes. The checks are the database's own: whatever the
-- caller, nothing less than 12 months old (by the database clock) is
-- deleted, only a prefix of the chain is deleted, and the checkpoint names
-- the stored event it replaces.
CREATE TABLE audit_retention_runs (
	id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	cutoff        TIMESTAMPTZ NOT NULL,
	seq           BIGINT NOT NULL,
	hash          BYTEA NOT NULL,
	checkpoint_at TIMESTAMPTZ NOT NULL,
	signature     BYTEA NOT NULL,
	deleted       BIGINT NOT NULL DEFAULT 0,
	applied_at    TIMESTAMPTZ
);

CREATE FUNCTION audit_retention_apply() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	stored BYTEA;
	n BIGINT;
BEGIN
	-- One retention at a time.
	PERFORM pg_advisory_xact_lock(7243062);
	IF NEW.cutoff > now() - interval '12 months' THEN
		RAISE EXCEPTION 'audit retention refused: cutoff is less than 12 months ago' USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT e.hash INTO stored FROM audit_events e WHERE e.seq = NEW.seq;
	IF stored IS NULL OR stored <> NEW.hash THEN
		RAISE EXCEPTION 'audit retention refused: checkpoint does not name a stored event' USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF EXISTS (SELECT 1 FROM audit_events e WHERE e.seq <= NEW.seq AND e.at >= NEW.cutoff) THEN
		RAISE EXCEPTION 'audit retention refused: an event at or before the checkpoint is newer than the cutoff' USING ERRCODE = 'insufficient_privilege';
	END IF;
	INSERT INTO audit_checkpoint (id, seq, hash, at, signature) VALUES (1, NEW.seq, NEW.hash, NEW.checkpoint_at, NEW.signature)
		ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, at = EXCLUDED.at, signature = EXCLUDED.signature;
	PERFORM set_config('gatehouse.audit_retention', 'on', true);
	DELETE FROM audit_events e WHERE e.seq <= NEW.seq;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('gatehouse.audit_retention', 'off', true);
	NEW.deleted := n;
	NEW.applied_at := now();
	RETURN NEW;
END;
$$;

-- A SECURITY DEFINER function must not resolve names through a schema the
-- caller controls: pin this schema, then pg_temp last.
DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION audit_retention_apply() SET search_path = %I, pg_temp', current_schema());
END;
$$;

CREATE TRIGGER audit_retention_apply BEFORE INSERT ON audit_retention_runs
	FOR EACH ROW EXECUTE FUNCTION audit_retention_apply();

-- Retention requests are a record: never changed or removed.
CREATE FUNCTION audit_retention_runs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_retention_runs is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_retention_runs_append_only BEFORE UPDATE OR DELETE ON audit_retention_runs
	FOR EACH ROW EXECUTE FUNCTION audit_retention_runs_append_only();

-- The application role may insert into every table, but it must not plant
-- a checkpoint (which would hide events from the verifier): only a role
-- with the table owner's rights, such as the retention trigger above,
-- writes audit_checkpoint.
CREATE FUNCTION audit_checkpoint_owner_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid = TG_RELID), 'MEMBER') THEN
		RAISE EXCEPTION 'audit_checkpoint is written only by audit retention' USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF TG_OP = 'DELETE' THEN
		RETURN OLD;
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER audit_checkpoint_owner_only BEFORE INSERT OR UPDATE OR DELETE ON audit_checkpoint
	FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_owner_only();
