"""Measurements that print figures. Each compares against a baseline taken in the same run."""
