"""Signal receivers of messaging (anymail's inbound and tracking signals)."""
