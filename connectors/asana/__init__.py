"""Asana: tasks and their stories, polled by project through the events sync-token feed."""
