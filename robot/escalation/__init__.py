"""Getting escalations and outcomes to people: signed webhooks with stored, retried deliveries."""
