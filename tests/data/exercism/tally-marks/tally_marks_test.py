import unittest

from tally_marks import tally


class TallyMarksTest(unittest.TestCase):
    def test_zero_is_empty(self):
        self.assertEqual(tally(0), "")

    def test_fewer_than_five(self):
        self.assertEqual(tally(3), "|||")

    def test_one_group_and_remainder(self):
        self.assertEqual(tally(7), "||||/ ||")

    def test_closed_groups_only(self):
        self.assertEqual(tally(10), "||||/ ||||/")

    def test_negative_count_raises(self):
        with self.assertRaises(ValueError):
            tally(-1)


if __name__ == "__main__":
    unittest.main()
