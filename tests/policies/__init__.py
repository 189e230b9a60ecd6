"""Payment policies: paying before joining, card holds, the clinic default and the waiting room."""
