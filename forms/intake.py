"""What the public form page and the public API share before they handle a client's post: one
rate limit per address (`submission_allowed`), and a cap on how much of a multipart body is read
(`limit_upload`): a form with two file fields needs at most two files' worth of bytes, and
anything past that is refused before it is read (not stored in a temporary file, then refused).

The files may hold FORM_UPLOAD_MAX_BYTES times the number of file fields plus MARGIN; the whole
body that, plus the text answers (Django caps them at DATA_UPLOAD_MAX_MEMORY_SIZE) and the multipart
framing. A body that announces more (CONTENT_LENGTH) is not read at all; files that turn out
larger while streaming (a chunked body, a lying length) are stopped where they cross the cap.
Either way the request is marked and the view answers a clear 400, never a 500.

Upload handlers must be in place before the body is read, so the page (CSRF-protected, and the
CSRF middleware reads request.POST) checks CSRF itself once the handler is installed; see
forms/views/public.py.
"""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, QueryDict
from django.utils.datastructures import MultiValueDict

from careops.errors import InvalidInput
from careops.ratelimit import submission_allowed as _allowed
from forms import fields as f

# One bucket for the page and the API: an address gets the `form_submission` rate in all.
RATE_BUCKET = "form-submission"
RATE_SCOPE = "form_submission"

MARGIN = 64 * 1024  # the multipart framing, and some slack
TOO_LARGE_ATTRIBUTE = "form_upload_too_large"


def submission_allowed(request) -> bool:
    """Another client post from this address is allowed (counts it): whatever the form, the
    workspace or the way (page or API), at the API's `form_submission` throttle rate."""
    return _allowed(request, bucket=RATE_BUCKET, scope=RATE_SCOPE)


class UploadTooLarge(InvalidInput):
    code = "upload_too_large"
    default_message = "The files sent are too large."


def files_budget(file_fields: int) -> int:
    """The most bytes of files a form with `file_fields` file fields is read: a margin more
    than it accepts, so that a file a little too large gets its message beside its field."""
    return settings.FORM_UPLOAD_MAX_BYTES * file_fields + MARGIN


def body_budget(file_fields: int) -> int:
    """The most bytes a multipart body for such a form may announce."""
    text = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return files_budget(file_fields) + text + MARGIN


def too_large_message() -> str:
    from forms.answers import file_size_text

    limit = file_size_text(settings.FORM_UPLOAD_MAX_BYTES)
    return f"The files are too large: each may be at most {limit}."


class BudgetUploadHandler(FileUploadHandler):
    """Stops reading a multipart body past `files` bytes of files (or at once when its
    announced length is past `body`) and marks the request; it stores nothing itself."""

    def __init__(self, request: HttpRequest, *, files: int, body: int):
        super().__init__(request)
        self.files, self.body = files, body
        self.received = 0

    def _stop(self) -> None:
        setattr(self.request, TOO_LARGE_ATTRIBUTE, True)

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.body:
            self._stop()
            # Handled: nothing is read, the view sees no fields and no files.
            return QueryDict(encoding=encoding), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.files:
            self._stop()
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def limit_upload(request: HttpRequest, *, file_fields: int) -> None:
    """Install the cap on `request` (a Django HttpRequest) before its body is read."""
    handler = BudgetUploadHandler(
        request, files=files_budget(file_fields), body=body_budget(file_fields)
    )
    request.upload_handlers.insert(0, handler)


def upload_refused(request: HttpRequest) -> bool:
    """The body was refused by the cap (ask once the body has been parsed)."""
    return getattr(request, TOO_LARGE_ATTRIBUTE, False)


def upload_too_large(request: HttpRequest) -> bool:
    """Parse the page's body (request.POST) within the cap: was it refused?"""
    request.POST  # noqa: B018 - parsing the body is what runs the handler
    return upload_refused(request)


def api_file_fields() -> int:
    """The API's token is in the body, so the form is not known before the body is read: the
    cap allows the most file fields a form may have."""
    return f.MAX_FILE_FIELDS
