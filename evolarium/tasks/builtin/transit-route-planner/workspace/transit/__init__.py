"""Timetables of a transit network and an earliest-arrival journey planner."""
