from rates import ACCEPTED_COINS, CENTS_PER_MINUTE, MAX_MINUTES


class ParkingMeter:
    def __init__(self):
        self.minutes_left = 0

    def insert(self, cents):
        if cents not in ACCEPTED_COINS:
            raise ValueError(f"coin of {cents} cents is not accepted")
        self.minutes_left = min(MAX_MINUTES, self.minutes_left + cents // CENTS_PER_MINUTE)
        return self.minutes_left

    def tick(self, minutes):
        self.minutes_left = max(0, self.minutes_left - minutes)
