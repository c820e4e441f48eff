"""Serving a client's uploaded file to staff: the page and the API answer it the same way."""

from __future__ import annotations

from django.http import FileResponse, Http404

from forms.models import FormUpload

# The types a file is served as, whatever FORM_UPLOAD_CONTENT_TYPES allowed when it came in:
# documents and pictures no browser runs code from. Anything else (text/html, image/svg+xml,
# a type a later setting let in) goes out as bytes to save.
SERVED_CONTENT_TYPES = frozenset(
    {"application/pdf", "image/jpeg", "image/png", "image/gif", "image/heic", "image/webp"}
)
OCTET_STREAM = "application/octet-stream"


def upload_content_type(upload: FormUpload) -> str:
    content_type = (upload.content_type or "").strip().lower()
    return content_type if content_type in SERVED_CONTENT_TYPES else OCTET_STREAM


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
        content_type=upload_content_type(upload),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Opened in a tab after all (a PDF viewer, a picture), it runs nothing and loads nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
