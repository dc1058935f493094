def hand_angle(hours, minutes):
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise ValueError(f"invalid time {hours}:{minutes}")
    hour_hand = (hours % 12) * 30 + minutes * 0.5
    minute_hand = minutes * 6
    difference = abs(hour_hand - minute_hand) % 360
    return float(min(difference, 360 - difference))
