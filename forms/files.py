"""Serving a client's uploaded file to staff: the page and the API answer it the same way."""

from __future__ import annotations

from django.http import FileResponse, Http404

from forms.models import FormUpload


def upload_response(upload: FormUpload) -> FileResponse:
    """The file streamed from storage as an attachment under the client's file name (never
    rendered inline: it is whatever the client sent). The page and the API both answer it."""
    try:
        handle = upload.file.open("rb")
    except FileNotFoundError:
        raise Http404("File not found.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=upload.original_name,
        content_type=upload.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
