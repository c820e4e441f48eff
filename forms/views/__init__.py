"""Forms pages: the template builder (templates.py), the staff's submissions
(submissions.py) and the client's public form (public.py)."""
