-- A newer sign-in link of a kind deletes the subject's unused older ones
-- (store.SupersedeOneTimeTokens): find them by purpose and subject.
CREATE INDEX one_time_tokens_subject ON one_time_tokens (purpose, subject) WHERE used_at IS NULL;
