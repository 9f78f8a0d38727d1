"""Action ids and view callback ids: the contract between the Block Kit we render and the listeners that
answer it. A renamed id strands every button already in Slack, so these never change."""

ACTION_CALLBACK = "alert_callback"  # value: alert id
ACTION_HANDLED = "alert_handled"  # value: alert id
ACTION_UNHANDLE = "alert_unhandle"  # value: alert id
ACTION_HISTORY = "alert_history"  # value: alert id
ACTION_PLAY_RECORDING = "play_recording"  # value: call id
ACTION_OPEN_LINK = "open_link_modal"  # value: "" or a Slack user id (admin linking someone)
ACTION_MORE = "more_results"  # value: JSON of the query to continue
VIEW_LINK = "link_device"  # modal callback id
# -- queue health ---------------------------------------------------------------------------------------------
ACTION_QUEUE_ON_IT = "queue_alert_on_it"  # value: queue breach id
# -- ownership
ACTION_TAKE = "alert_take"  # value: alert id ("I'll take it")
ACTION_RELEASE = "alert_release"  # value: alert id
ACTION_REASSIGN = "alert_reassign"  # value: alert id (admins: opens the user picker)
VIEW_REASSIGN = "alert_reassign"  # modal callback id; private_metadata: alert id
