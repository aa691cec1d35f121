"""GitHub: issues and pull requests, polled by repository through PyGithub."""
