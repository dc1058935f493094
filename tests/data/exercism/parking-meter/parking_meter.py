class ParkingMeter:
    def __init__(self):
        pass

    def insert(self, cents):
        pass

    def tick(self, minutes):
        pass
