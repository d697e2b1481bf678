"""What end-to-end tests share: one server wrapper (`server`), one HTTP client (`client`) and
one polling helper (`wait`)."""
