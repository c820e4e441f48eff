"""What the demo businesses offer, use and say: the catalogue careops.demo_bulk draws from."""

from __future__ import annotations

MAX_BOOKINGS = 1_000_000
HISTORY_DAYS = 730
AHEAD_DAYS = 30
HOURS = tuple(range(9, 17))  # each calendar's hourly slots, Monday to Friday
FILL = 0.75  # at most this share of a calendar's slots is booked: more practitioners beyond
MIN_CALENDARS = 3
BOOKINGS_PER_CONTACT = 7
CHUNK = 10_000

# name, slug, minutes, buffer before, buffer after, price, share of the bookings (percent)
SERVICES = (
    ("Physio session", "physio-session", 45, 0, 15, "£55", 40),
    ("Sports massage", "sports-massage", 60, 0, 0, "£60", 20),
    ("Initial assessment", "initial-assessment", 50, 0, 10, "£70", 15),
    ("Follow-up call", "follow-up-call", 20, 5, 5, "£25", 25),
)
INTAKE = "New client intake"
INTAKE_SERVICES = ("physio-session", "initial-assessment")
INTAKE_FIELDS = [
    {"type": "text", "label": "Full name", "required": True, "maps_to": "name"},
    {"type": "email", "label": "Email", "maps_to": "email"},
    {"type": "date", "label": "Date of birth"},
    {"type": "single_choice", "label": "Seen a physio before?", "choices": ["Yes", "No"]},
    {"type": "long_text", "label": "Medical history and medication"},
    {"type": "checkbox", "label": "I consent to assessment and treatment", "required": True},
    {"type": "signature", "label": "Signature", "required": True},
]
# name, sku, unit, low-stock threshold, reorder quantity, {service slug: used per booking}
SUPPLIES = (
    ("Treatment couch roll", "ROLL-50", "roll", 4, 12, {"physio-session": 1}),
    ("Massage oil 500 ml", "OIL-500", "bottle", 2, 6, {"sports-massage": 1}),
    ("Nitrile gloves (box of 100)", "GLOVE-100", "box", 3, 10, {"initial-assessment": 1}),
    ("Ultrasound gel 250 ml", "GEL-250", "bottle", 3, 12, {"physio-session": 1}),
    ("Kinesiology tape", "TAPE-5M", "roll", 5, 10, {}),
)
TAGS = ("regular", "new client", "VIP", "insured", "sports injury", "post-op", "referral")
# fmt: off
FIRST = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia",
    "Grace", "Freya", "Emily", "Ella", "Poppy", "Noah", "Oliver", "George", "Arthur", "Leo",
    "Muhammad", "Harry", "Oscar", "Archie", "Henry", "Theo", "Jack", "Charlie", "Jacob", "Priya",
    "Aisha", "Mateo", "Chloe", "Daniel", "Hannah", "Samuel", "Zara", "Lucas", "Fatima", "Tom",
    "Ruth", "Kofi", "Mei",
)
# fmt: on
# fmt: off
LAST = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Wright", "Robinson", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Hughes", "Edwards", "Turner", "Hill", "Moore",
    "Cooper", "Ward", "Morris", "Shah", "Kaur", "Nguyen", "Okafor", "Murphy", "Kelly", "Campbell",
    "Singh",
)
# fmt: on
INBOUND = (
    ("Appointment", "Hi, could I move my appointment to later in the week?"),
    ("Parking", "Is there parking near the clinic?"),
    ("Question", "My back is still sore after the last session, is that normal?"),
    ("Invoice", "Could you send me a receipt for my insurer please?"),
    ("", "Running 10 minutes late, sorry!"),
    ("New booking", "Hello! Do you have anything on Saturday mornings?"),
)
OUTBOUND = (
    "Of course, I have moved you to Thursday at the same time.",
    "Yes, there is a car park on Quay Street, two minutes away.",
    "Some soreness for a day or two is normal. Keep up the stretches and let us know.",
    "Your receipt is attached. Get well soon!",
    "No problem, see you shortly.",
    "We are closed at weekends, but Friday at 16:00 is free. Shall I book it?",
)
