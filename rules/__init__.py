"""Pure detection: handoffs and standoffs from events and items. No I/O here."""
