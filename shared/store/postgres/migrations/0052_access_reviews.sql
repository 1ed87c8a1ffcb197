-- Access reviews of an organization's members by its owner (AUTHZ-5).
CREATE TABLE access_reviews (
	id           TEXT PRIMARY KEY,
	org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	started_by   TEXT NOT NULL,
	started_at   TIMESTAMPTZ NOT NULL,
	completed_by TEXT NOT NULL DEFAULT '',
	completed_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX access_reviews_open ON access_reviews (org_id) WHERE completed_at IS NULL;
CREATE INDEX access_reviews_org ON access_reviews (org_id, completed_at);

CREATE TABLE access_review_decisions (
	review_id  TEXT NOT NULL REFERENCES access_reviews (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	decision   TEXT NOT NULL CHECK (decision IN ('confirm', 'revoke')),
	decided_by TEXT NOT NULL,
	decided_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (review_id, user_id)
);
