"""档案: children's archives in and out — the coordinators' sheets, exports, finding a child."""
