"""Automation pages: the owner's rules (switch on/off, edit the message, try it without sending)
and the alerts staff act on. The dashboard and the booking page show automation's panels too."""
