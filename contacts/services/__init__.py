"""Writes for contacts. Callers use this package's names; the modules split it by purpose:

identity   the checks every write shares (addresses, tags, custom fields, consent)
upsert     people writing in (contact form, inbound messages, imports): create or update
edits      staff adding and changing contacts
merge      an owner folding one contact into another
"""

from __future__ import annotations

from contacts.services.edits import contact_create, contact_update
from contacts.services.identity import (
    clean_custom_fields,
    clean_identity,
    clean_tag_names,
    contact_identity_conflicts,
    tags_resolve,
)
from contacts.services.merge import contact_merge, contact_snapshot
from contacts.services.upsert import contact_form_submit, contact_upsert

__all__ = [
    "clean_custom_fields",
    "clean_identity",
    "clean_tag_names",
    "contact_create",
    "contact_form_submit",
    "contact_identity_conflicts",
    "contact_merge",
    "contact_snapshot",
    "contact_update",
    "contact_upsert",
    "tags_resolve",
]
