"""Every string the panels' JavaScript shows, in English (the msgids).

The page view sends them translated as ``{msgid: _(msgid)}`` in the page's
``i18n`` JSON block; ``static/js/panel/config.js`` looks them up with ``t(msgid)``.
``{name}`` placeholders are filled in by the script, so translations must keep
them. ``N_`` only marks the strings for extraction (babel.cfg's python
extractor knows it); the tests check that each one is here and translated.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    return message


JS_STRINGS: tuple[str, ...] = (
    N_("MediPay: {patient} — {status}"),
    N_("Sent to MediPay: {status}"),
    N_("Send as SMS/invoice"),
    N_("Send as SMS/invoice: {description}"),
    # Request statuses
    N_("Requested"),
    N_("Checkout open"),
    N_("Paid"),
    N_("Cancelled"),
    N_("Expired"),
    N_("Failed"),
    N_("Refunded"),
    N_("Partially refunded"),
    # Bill card statuses (app.billing.statuses.CARD_LABELS)
    N_("Being worked on"),
    N_("Open"),
    N_("Open and exported"),
    N_("Card receipt generated. Payments registered"),
    N_("Invoice generated"),
    N_("Invoice generated. Exported"),
    N_("Invoice generated. Payments registered. Exported."),
    # Connection
    N_("Connected"),
    N_("Connected again."),
    N_("Reconnecting…"),
    N_("Connection lost. Reconnecting…"),
    N_("Offline"),
    N_("Could not connect."),
    N_("The service is busy. Trying again in {seconds} s…"),
    N_("Could not load the live connection. Please reload the page."),
    N_("The server did not answer. Please try again."),
    N_("Something went wrong. Please try again."),
    N_("The consultation has ended."),
    # Clinician: the request form
    N_("Enter an amount."),
    N_("Enter the amount as a number, for example 450 or 450,50."),
    N_("The amount cannot be negative."),
    N_("The amount must be greater than zero."),
    N_("The amount is too large."),
    N_("Use at most two decimals."),
    N_("This currency has no decimals."),
    N_("Description is required."),
    N_("The description can be at most 200 characters."),
    N_("Choose a patient."),
    N_("Payment request sent: {amount} — {description}"),
    # Clinician: the list and the popup
    N_("Cancel"),
    N_("Cancel request: {description}"),
    N_("Request cancelled: {description}"),
    N_("Refunded: {amount}"),
    N_("{amount} for “{description}”"),
    N_("Payment received: {amount} — {description}"),
    # Clinician: refunds
    N_("Refund…"),
    N_("Refund: {description}"),
    N_("“{description}” for {patient}: paid {paid}, refunded {refunded}."),
    N_("At most {amount}. Change it for a partial refund."),
    N_("At most {amount} can be refunded."),
    N_("Refunded {amount} — {description}"),
    # Patient
    N_("Payment requested: {amount} — {description}"),
    N_("{amount} — {description}"),
    N_("Pay now"),
    N_("Pay now: {amount} — {description}"),
    N_("Opening the payment page…"),
    N_("The payment page opened in a new window."),
    N_("Open the payment page"),
    N_("Your browser blocked the new window. Use the link to open the payment page."),
    N_("The payment page is open in another window. Finish paying there; this panel updates by itself."),
    N_("The payment did not go through. No money was taken."),
    N_("Payment could not be started. Please try again."),
    N_("Thank you! Your payment has been received."),
    N_("{amount} for “{description}”. Reference: {reference}."),
    N_("{description}: {status}"),
    N_("Amount"),
    N_("Description"),
    N_("Paid at"),
    N_("Reference"),
    # Clinician: guard rails and confirmations
    N_("At most {amount} per payment request."),
    N_("Send this payment request?"),
    N_("The amount is above {amount}. The patient will be asked to pay:"),
    N_("Send the request"),
    N_("Cancel this payment request?"),
    N_("The patient can no longer pay it. This cannot be undone."),
    N_("Cancel the request"),
    # What went wrong with a checkout, where an unpaid amount went, and the MediPay confirmation
    N_("The patient left the payment page without paying. It can be paid again."),
    N_("Card declined: {reason}. The patient can try another card."),
    N_("The payment failed: {reason}. No money was taken."),
    N_("The payment page timed out without a payment."),
    N_("You left the payment page. No money was taken. Press Pay now when you are ready."),
    N_("Your card was declined: {reason}. No money was taken. You can try another card on the payment page."),
    N_("The payment page timed out. No money was taken."),
    N_("Sent to MediPay: the patient pays by SMS"),
    N_("Not paid in the call: goes to MediPay for payment by SMS"),
    N_("Not paid in the call: left on the bill card, no SMS"),
    N_("Not paid: no collection"),
    N_("Sent to you by SMS"),
    N_("Not paid in the call: you will get an SMS to pay"),
    N_("Not paid in the call: the clinic will send you the bill"),
    N_("Not paid: nothing more is asked"),
    N_("the card issuer declined it"),
    N_("not enough money on the card"),
    N_("the card has expired"),
    N_("the security code was wrong"),
    N_("the card could not be processed; trying again may work"),
    N_("the card issuer asked for authentication that was not completed"),
    N_("the bank did not complete the payment"),
    N_("{patient} gets an SMS from MediPay asking for {total}."),
    N_("MediPay's fee"),
    N_("The patient is asked for"),
    N_("Sent as"),
    N_("SMS to {mobile}"),
    N_("Language"),
    # Receipts
    N_("Receipt number"),
    N_("View receipt {number}"),
    N_("Receipt (PDF) {number}"),
    N_("Receipt {number}"),
)
