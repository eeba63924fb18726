"""The presenter's tools: scenario files played on a timeline, background traffic, their runner."""
