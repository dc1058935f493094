def tally(count):
    pass
