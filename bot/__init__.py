"""ringbot: AntBuddy Ring call events into Slack alerts, slash commands and call-backs."""

__version__ = "0.1.0"
