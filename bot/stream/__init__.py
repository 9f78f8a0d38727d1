"""AntBuddy's live call-event stream: transports (socketio, socketio09, kazoo), protocol probe, and the client.

Use `bot.stream.client.StreamClient`; it picks a transport from `bot.stream.transport.create_transport`.
"""
