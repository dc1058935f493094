def hand_angle(hours, minutes):
    raise NotImplementedError("write hand_angle")
