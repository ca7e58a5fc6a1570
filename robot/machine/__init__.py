"""Telling an answering machine from a person in the first seconds of a call: voicemail,
phone assistants (AI 代接 / 秘书服务), carrier secretary messages (来电提醒)."""
