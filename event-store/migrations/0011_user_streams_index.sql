-- Who could read a ticket at a past moment (issue 6, auditors): every user's roles and disabled
-- flag then are folded from all `user` streams in one ordered read. Expand only: this partial
-- index keeps that read independent of the number of ticket events.
CREATE INDEX events_user_idx ON events (stream_id, stream_version) WHERE stream_type = 'user';
