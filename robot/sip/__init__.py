"""SIP calling with pjsua2: configuration, call progress, the media bridge, call workers."""
