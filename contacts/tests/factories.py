from __future__ import annotations

import factory

from contacts.models import Contact, Tag
from workspaces.tests.factories import WorkspaceFactory


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"client{n}@example.org")
    phone = factory.Sequence(lambda n: f"+4477009{n:05d}")
    source = Contact.Source.MANUAL


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag-{n}")
