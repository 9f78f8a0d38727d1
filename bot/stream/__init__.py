"""AntBuddy's live call-event stream: transports (socketio, socketio09, kazoo), protocol probe, and the client.

Use `bot.stream.client.StreamClient`; it picks a transport with `bot.stream.client.create_transport`.
"""
