"""Pure billing rules, no I/O: money and its rounding (`money`), billing periods (`periods`),
prices and what an item costs (`price_books`), invoice assembly and settlement (`invoices`),
the minimum monthly fee (`minimum_fee`), contractor earnings (`earnings`) and margin
(`margin`)."""
