"""Jira: issues polled by JQL (Cloud /search/jql or Data Center /search) through the jira client."""
